import SandboxRuntime

/// Starts a project's sandbox, or finds it running.
protocol SandboxActivating: Sendable {
    /// The project's sandbox, made if it has none and started if it is stopped.
    func ensureActive(projectID: String, image: String) async throws -> SandboxRecord
}

extension SandboxRuntime: SandboxActivating {}
