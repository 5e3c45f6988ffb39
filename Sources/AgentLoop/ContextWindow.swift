/// Keeps a conversation inside the model's window: old tool output goes first (replaced by a
/// note saying it was trimmed), then, if that is not enough, the oldest turns.
enum ContextWindow {
    /// The most recent messages are never trimmed: the model needs what it just saw.
    static let keepRecent = 6

    static func fit(_ messages: [ConversationMessage], budget: Int) -> [ConversationMessage] {
        var messages = messages
        var total = messages.reduce(0) { $0 + $1.estimatedTokens }
        guard total > budget else { return messages }
        let protected = max(0, messages.count - keepRecent)
        for index in 0..<protected where total > budget && messages[index].role == .tool && messages[index].text.utf8.count > 200 {
            let before = messages[index].estimatedTokens
            messages[index].text = "[output trimmed to fit the context window; it was \(messages[index].text.utf8.count) bytes]"
            total -= before - messages[index].estimatedTokens
        }
        // Still too long: drop whole turns from the front, so the first message stays a user's
        // and no tool result is left without its call.
        while total > budget, messages.count > keepRecent {
            total -= messages.removeFirst().estimatedTokens
            while let first = messages.first, first.role != .user, messages.count > keepRecent {
                total -= messages.removeFirst().estimatedTokens
            }
        }
        return messages
    }
}
