/// Where a run's output goes; the host stores each thing before it returns, so what a client
/// was sent survives a crash.
public protocol AgentRunSink: Sendable {
    /// Stores and publishes one event.
    func emit(_ event: AgentEvent) async throws
    /// Appends a message (assistant or tool) to the run's thread.
    func append(_ message: ConversationMessage, id: String) async throws
    /// Adds one completion's token counts to the run's.
    func record(usage: TokenUsage) async throws
}
