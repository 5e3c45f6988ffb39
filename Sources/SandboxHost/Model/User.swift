/// A person or service that owns projects and holds API keys.
public struct User: Sendable, Equatable {
    public let id: String
    public let name: String
    public let createdAt: String
}
