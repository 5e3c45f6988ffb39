/// What a provider reports while a completion streams, in the order it learns it.
public enum ModelStreamEvent: Sendable, Equatable {
    /// A piece of the assistant's text.
    case text(String)
    /// A tool call, complete (its argument fragments joined).
    case toolCall(ToolCall)
    /// Token counts for this completion.
    case usage(TokenUsage)
    /// Why the model stopped (`stop`, `tool_calls`, `end_turn`, `tool_use`, `length`, …).
    case finished(String)
}

/// Prompt and completion tokens, as providers count them.
public struct TokenUsage: Sendable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int

    public init(promptTokens: Int = 0, completionTokens: Int = 0) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }

    public static func + (lhs: TokenUsage, rhs: TokenUsage) -> TokenUsage {
        TokenUsage(promptTokens: lhs.promptTokens + rhs.promptTokens, completionTokens: lhs.completionTokens + rhs.completionTokens)
    }
}
