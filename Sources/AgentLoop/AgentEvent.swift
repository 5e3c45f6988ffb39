/// What a run tells its watchers, in order. The host numbers each event (`sequence`) and stores
/// it before anyone sees it.
public enum AgentEvent: Sendable, Equatable {
    case status(String, message: String?)
    /// A piece of assistant text, and the message it belongs to.
    case content(String, messageID: String)
    case toolCall(tool: String, toolCallID: String, arguments: JSONValue)
    case toolResult(tool: String, toolCallID: String, result: String, success: Bool)
    case error(String)

    /// The contract's event body, without `sequence`.
    public var payload: [String: JSONValue] {
        switch self {
        case .status(let status, let message):
            var body: [String: JSONValue] = ["type": "status", "status": .string(status)]
            if let message { body["message"] = .string(message) }
            return body
        case .content(let text, let messageID):
            return ["type": "content", "content": .string(text), "message_id": .string(messageID)]
        case .toolCall(let tool, let id, let arguments):
            return ["type": "tool_call", "tool": .string(tool), "tool_call_id": .string(id), "arguments": arguments]
        case .toolResult(let tool, let id, let result, let success):
            return ["type": "tool_result", "tool": .string(tool), "tool_call_id": .string(id), "result": .string(result), "success": .bool(success)]
        case .error(let message):
            return ["type": "error", "message": .string(message)]
        }
    }
}
