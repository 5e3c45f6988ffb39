import SandboxRuntime

/// Where a project's files are, for the file routes. Blocking: call on the thread pool.
protocol WorkspaceLocating: Sendable {
    /// The workspace directory (the sandbox's `/workspace`).
    func path(projectID: String) -> String
    /// Mounts the project's volume if a restart left it unmounted; 404 when it has none.
    func ensureVolume(projectID: String) throws
    /// Where uploads to the project are staged, on its own volume.
    func stagingPath(projectID: String) -> String
    /// Whether each project has a volume of its own (its free space is its budget).
    var usesDiskImages: Bool { get }
}

extension WorkspaceStore: WorkspaceLocating {}
