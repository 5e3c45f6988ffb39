import SandboxRuntime

/// What previews need of a running sandbox's network: its listening ports, and PID 1 to reach
/// its network namespace through.
protocol SandboxPorts: Sendable {
    /// The TCP ports listened on inside the sandbox; empty when it is not running.
    func listeningPorts(_ sandboxID: String) async -> Set<Int>
    /// A pidfd of the sandbox's PID 1 (owned by the runtime: do not close), nil when not running.
    func initProcessDescriptor(_ sandboxID: String) async -> Int32?
}

extension SandboxRuntime: SandboxPorts {}
