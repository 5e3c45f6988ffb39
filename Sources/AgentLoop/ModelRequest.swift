/// One completion request: everything a provider needs, in no provider's format.
public struct ModelRequest: Sendable {
    public var model: String
    public var system: String
    public var messages: [ConversationMessage]
    public var tools: [ToolDefinition]
    public var maxTokens: Int

    public init(model: String, system: String, messages: [ConversationMessage], tools: [ToolDefinition], maxTokens: Int = 4096) {
        self.model = model
        self.system = system
        self.messages = messages
        self.tools = tools
        self.maxTokens = maxTokens
    }
}
