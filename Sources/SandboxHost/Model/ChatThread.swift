/// A conversation inside a project.
public struct ChatThread: Sendable, Equatable, Encodable {
    public let id: String
    public let projectID: String
    public let createdAt: String

    enum CodingKeys: String, CodingKey {
        case id = "thread_id", projectID = "project_id", createdAt = "created_at"
    }
}
