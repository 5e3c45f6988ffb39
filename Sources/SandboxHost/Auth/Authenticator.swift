/// Turns a presented API key into the user it belongs to.
public struct Authenticator: Sendable {
    let users: UserStore

    /// The authenticated caller.
    public struct Identity: Sendable, Equatable {
        public let userID: String
        public let userName: String
        public let keyID: String
    }

    /// The identity for `presented`, or nil when the key is malformed, unknown, revoked or wrong.
    public func authenticate(_ presented: String) async throws -> Identity? {
        guard let parsed = APIKey.parse(presented) else { return nil }
        guard let record = try await users.key(id: parsed.id) else { return nil }
        guard APIKey.constantTimeEqual(record.hash, parsed.hash), record.revokedAt == nil else { return nil }
        return Identity(userID: record.userID, userName: record.userName, keyID: record.id)
    }
}
