import SandboxRuntime

/// The caller's projects: made, listed, found and deleted (their rows; files and sandboxes are
/// the caller's to remove around it).
protocol ProjectCatalog: ProjectLookup {
    /// `network`: the project's policy (validated); nil: the host default.
    func create(userID: String, name: String, description: String?, image: String, network: NetworkPolicy?) async throws -> Project
    func list(userID: String) async throws -> [Project]
    /// Whether a row went: false when it was not the caller's or already gone.
    func delete(id: String, userID: String) async throws -> Bool
}

extension ProjectCatalog {
    func create(userID: String, name: String, description: String?, image: String) async throws -> Project {
        try await create(userID: userID, name: name, description: description, image: image, network: nil)
    }
}

extension ProjectStore: ProjectCatalog {}
