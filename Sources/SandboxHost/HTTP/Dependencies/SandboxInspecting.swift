import SandboxRuntime

/// What the runtime knows of a sandbox beyond its row.
protocol SandboxInspecting: Sendable {
    func isRunning(_ sandboxID: String) async -> Bool
    /// When a command last ran or a file was touched, if since this host started.
    func lastActive(_ sandboxID: String) -> String?
}

extension SandboxRuntime: SandboxInspecting {}
