import AgentLoop

/// One message of a thread: a person's, the assistant's (with the tool calls it made), or a
/// tool's result (with the call it answers).
public struct ChatMessage: Sendable, Equatable, Encodable {
    public enum Role: String, Sendable, Encodable { case user, assistant, tool }

    public let id: String
    public let threadID: String
    public let role: Role
    public let content: String
    public let createdAt: String
    public var toolCalls: [ToolCall]? = nil
    public var toolCallID: String? = nil
    public var toolName: String? = nil
    public var runID: String? = nil

    enum CodingKeys: String, CodingKey {
        case id = "message_id", threadID = "thread_id", role, content, createdAt = "created_at"
        case toolCalls = "tool_calls", toolCallID = "tool_call_id", toolName = "tool_name", runID = "agent_run_id"
    }

    /// The message as the agent loop replays it to a model.
    var conversationMessage: ConversationMessage {
        switch role {
        case .user: ConversationMessage(role: .user, text: content)
        case .assistant: ConversationMessage(role: .assistant, text: content, toolCalls: toolCalls ?? [])
        case .tool: ConversationMessage(role: .tool, text: content, toolCallID: toolCallID, toolName: toolName)
        }
    }
}
