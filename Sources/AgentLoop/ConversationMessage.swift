/// One message of the conversation as the loop hands it to a provider; each provider writes it
/// in its own wire format.
public struct ConversationMessage: Sendable, Equatable {
    public enum Role: String, Sendable { case user, assistant, tool }

    public var role: Role
    public var text: String
    /// The calls an assistant message made (empty otherwise).
    public var toolCalls: [ToolCall]
    /// For a tool message: the call it answers, and that tool's name.
    public var toolCallID: String?
    public var toolName: String?

    public init(role: Role, text: String, toolCalls: [ToolCall] = [], toolCallID: String? = nil, toolName: String? = nil) {
        self.role = role
        self.text = text
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
        self.toolName = toolName
    }

    public static func user(_ text: String) -> ConversationMessage { ConversationMessage(role: .user, text: text) }

    /// A rough token count (4 bytes a token): enough to keep a conversation inside a window.
    var estimatedTokens: Int {
        (text.utf8.count + toolCalls.reduce(0) { $0 + $1.arguments.utf8.count + $1.name.utf8.count }) / 4 + 8
    }
}
