import Foundation

/// The loop: ask the model, stream its text, run the tools it calls in order, feed the results
/// back, until it answers without a tool call or `maxSteps` model calls were made.
///
/// Stopping is cancellation of the task that runs `run`: a running tool's command is killed
/// (the sandbox kills on cancellation), its result recorded, and `run` throws
/// `CancellationError`. Provider failures are retried by `retry`; what is left becomes
/// `.failed` with a message for the run's `error` event.
public struct AgentRunner: Sendable {
    public enum Outcome: Sendable, Equatable {
        case completed
        case failed(String)
    }

    let provider: any ModelProvider
    let model: String
    let toolbox: Toolbox
    let system: String
    public var maxSteps: Int
    public var contextTokens: Int
    public var retry: RetryPolicy
    public var maxOutputTokens = 4096
    /// Makes the id of each assistant message before its text streams (content events carry it).
    public var makeMessageID: @Sendable () -> String = { UUID().uuidString.lowercased() }

    public init(
        provider: any ModelProvider, model: String, toolbox: Toolbox, system: String,
        maxSteps: Int = 50, contextTokens: Int = 128_000, retry: RetryPolicy = RetryPolicy()
    ) {
        self.provider = provider
        self.model = model
        self.toolbox = toolbox
        self.system = system
        self.maxSteps = maxSteps
        self.contextTokens = contextTokens
        self.retry = retry
    }

    public func run(history: [ConversationMessage], sink: any AgentRunSink) async throws -> Outcome {
        var messages = history
        // What the window must also hold: the system prompt, the tool schemas, the answer.
        let reserved = system.utf8.count / 4 + toolbox.definitions.reduce(0) { $0 + $1.parameters.jsonText.utf8.count / 4 + 50 } + maxOutputTokens
        for _ in 0..<maxSteps {
            try Task.checkCancellation()
            let request = ModelRequest(
                model: model, system: system, messages: ContextWindow.fit(messages, budget: max(1000, contextTokens - reserved)),
                tools: toolbox.definitions, maxTokens: maxOutputTokens)
            let messageID = makeMessageID()
            let reply: Reply
            do {
                reply = try await complete(request, messageID: messageID, sink: sink)
            } catch let error as AgentLoopError {
                return .failed(error.message)
            }
            try await sink.record(usage: reply.usage)
            let assistant = ConversationMessage(role: .assistant, text: reply.text, toolCalls: reply.calls)
            try await sink.append(assistant, id: messageID)
            messages.append(assistant)
            if reply.calls.isEmpty { return .completed }

            for call in reply.calls {
                let arguments = JSONValue.parse(call.arguments) ?? .string(call.arguments)
                try await sink.emit(.toolCall(tool: call.name, toolCallID: call.id, arguments: arguments))
                let outcome = await toolbox.run(call)
                let stopped = Task.isCancelled
                let text = stopped ? outcome.text + "\n[the run was stopped; the command was killed]" : outcome.text
                try await sink.emit(.toolResult(tool: call.name, toolCallID: call.id, result: text, success: outcome.success && !stopped))
                let result = ConversationMessage(role: .tool, text: text, toolCallID: call.id, toolName: call.name)
                try await sink.append(result, id: makeMessageID())
                messages.append(result)
                if stopped { throw CancellationError() }
            }
        }
        return .failed("the run reached max_steps (\(maxSteps)) before the model finished")
    }

    struct Reply {
        var text = ""
        var calls: [ToolCall] = []
        var usage = TokenUsage()
    }

    /// One model call, retried while the provider's failure is temporary. Text streams to the
    /// sink as it comes; a retried call's text streams again (clients see both; the thread keeps
    /// the final one).
    private func complete(_ request: ModelRequest, messageID: String, sink: any AgentRunSink) async throws -> Reply {
        let collected = ReplyBox()
        try await retry.run {
            await collected.reset()
            try await provider.complete(request) { event in
                switch event {
                case .text(let text):
                    await collected.appendText(text)
                    try await sink.emit(.content(text, messageID: messageID))
                case .toolCall(let call):
                    await collected.appendCall(call)
                case .usage(let usage):
                    await collected.setUsage(usage)
                case .finished:
                    break
                }
            }
        }
        return await collected.reply
    }
}

/// The reply being collected from a streaming callback (which must be `@Sendable`).
private actor ReplyBox {
    var reply = AgentRunner.Reply()
    func reset() { reply = AgentRunner.Reply() }
    func appendText(_ text: String) { reply.text += text }
    func appendCall(_ call: ToolCall) { reply.calls.append(call) }
    func setUsage(_ usage: TokenUsage) { reply.usage = usage }
}
