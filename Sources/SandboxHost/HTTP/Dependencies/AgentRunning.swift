/// Starts and stops agent runs, and fans out live runs' events.
protocol AgentRunning: Sendable {
    /// 400 without a provider or with a model it does not offer.
    func checkReady(model: String?) async throws
    func start(threadID: String, userID: String, message: String?, model requested: String?, maxSteps: Int) async throws -> AgentRun
    /// Cancels the run's task; false when it is not running here.
    func stop(runID: String) async -> Bool
    /// Live runs' events, for streams.
    var hub: AgentRunHub { get }
}

extension AgentService: AgentRunning {}
