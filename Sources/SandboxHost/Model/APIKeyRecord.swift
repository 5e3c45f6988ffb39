/// A stored API key: its id, owner and SHA-256 hash; the key itself is never stored.
public struct APIKeyRecord: Sendable, Equatable {
    public let id: String
    public let userID: String
    public let userName: String
    public let hash: [UInt8]
    public let createdAt: String
    public let revokedAt: String?
}
