/// One message of a thread.
public struct ChatMessage: Sendable, Equatable, Encodable {
    public enum Role: String, Sendable, Encodable { case user, assistant, tool }

    public let id: String
    public let threadID: String
    public let role: Role
    public let content: String
    public let createdAt: String

    enum CodingKeys: String, CodingKey {
        case id = "message_id", threadID = "thread_id", role, content, createdAt = "created_at"
    }
}
