import SandboxRuntime

/// Deletes sandboxes, and keeps a project closed to new ones while it is deleted.
protocol SandboxRemoving: Sendable {
    /// Stops the sandbox and removes its cgroups and layers.
    func delete(_ record: SandboxRecord) async throws
    /// Runs `body` with the project closed: its sandbox cannot start until `body` ends, and
    /// deletes of one project run one at a time.
    func whileClosed<T: Sendable>(project projectID: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T
}

extension SandboxRuntime: SandboxRemoving {}
