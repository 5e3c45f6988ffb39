/// Agent runs as stored: the caller's run, a thread's runs, and a run's recorded events.
protocol AgentRunLookup: Sendable {
    func get(id: String, userID: String) async throws -> AgentRun?
    func list(threadID: String) async throws -> [AgentRun]
    func events(runID: String, after sequence: Int, limit: Int, budget: Int) async throws -> [(sequence: Int, payload: String)]
}

extension AgentRunStore: AgentRunLookup {}
