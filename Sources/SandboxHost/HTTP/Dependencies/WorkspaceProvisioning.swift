import SandboxRuntime

/// Projects' workspaces (each a volume with the workspace, the sandbox's layers and staging):
/// made with the project, removed with it.
protocol WorkspaceProvisioning: Sendable {
    func create(projectID: String) async throws
    /// Unmounts and removes the project's volume and tree.
    func remove(projectID: String) async throws
    /// Removes a tree of the data directory by descriptor (a deleted project's deployments).
    func removeTree(_ path: String) async throws
}

extension WorkspaceStore: WorkspaceProvisioning {}
