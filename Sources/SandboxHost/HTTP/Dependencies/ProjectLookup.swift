/// Finds one of the caller's projects: what a controller acting inside a project checks first.
protocol ProjectLookup: Sendable {
    /// The project `id` if `userID` owns it; nil otherwise (another's is indistinguishable from a missing one).
    func get(id: String, userID: String) async throws -> Project?
}

extension ProjectStore: ProjectLookup {}
