import SandboxRuntime

/// Marks a sandbox in use, so the idle sweep leaves it running.
protocol SandboxActivity: Sendable {
    func touch(_ sandboxID: String, busy delta: Int)
}

extension SandboxActivity {
    func touch(_ sandboxID: String) { touch(sandboxID, busy: 0) }
}

extension SandboxRuntime: SandboxActivity {}
