import SandboxRuntime

/// Finds sandboxes: by id for the caller's routes, by project for a project's delete.
protocol SandboxLookup: Sendable {
    /// The sandbox `id` if `userID` owns its project; nil otherwise.
    func get(id: String, userID: String) async throws -> SandboxRecord?
    /// The project's sandbox, if it has one (no owner check: the caller checked the project).
    func forProject(_ projectID: String) async throws -> SandboxRecord?
}

extension SandboxLookup {
    /// The `{sandbox_id}` of the route, if it is the caller's; 404 otherwise, as for a missing one.
    func owned(_ context: AppRequestContext) async throws -> SandboxRecord {
        let identity = try context.requireIdentity()
        let id = try context.parameters.require("sandbox_id")
        guard let record = try await get(id: id, userID: identity.userID) else {
            throw HostError.notFound("sandbox")
        }
        return record
    }
}

extension SandboxStore: SandboxLookup {}
