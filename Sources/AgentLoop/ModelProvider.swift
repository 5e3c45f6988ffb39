/// A language model behind an HTTP API that streams and calls tools.
///
/// `complete` sends one request and reports each event as it arrives; it throws
/// `AgentLoopError` (retryable or not) and stops early when the task is cancelled.
public protocol ModelProvider: Sendable {
    var name: String { get }
    func complete(_ request: ModelRequest, onEvent: @Sendable (ModelStreamEvent) async throws -> Void) async throws
}
