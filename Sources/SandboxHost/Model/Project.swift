/// A user's project: a workspace of files and at most one sandbox.
public struct Project: Sendable, Equatable, Encodable {
    public let id: String
    public let userID: String
    public let name: String
    public let description: String?
    public let image: String
    public let sandboxID: String?
    public let createdAt: String

    enum CodingKeys: String, CodingKey {
        case id = "project_id", name, description, image, sandboxID = "sandbox_id", createdAt = "created_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(description, forKey: .description)
        try container.encode(image, forKey: .image)
        try container.encode(sandboxID, forKey: .sandboxID)
        try container.encode(createdAt, forKey: .createdAt)
    }
}
