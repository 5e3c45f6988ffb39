import SandboxRuntime

/// A user's project: a workspace of files and at most one sandbox.
public struct Project: Sendable, Equatable, Encodable {
    public let id: String
    public let userID: String
    public let name: String
    @NullEncoded public var description: String?
    public let image: String
    @NullEncoded public var sandboxID: String?
    public let createdAt: String
    /// Its sandbox's network policy; null: the host default (`SANDBOX_HOST_NETWORK_DEFAULT`).
    @NullEncoded public var network: NetworkPolicy?

    enum CodingKeys: String, CodingKey {
        case id = "project_id", name, description, image, sandboxID = "sandbox_id", createdAt = "created_at", network
    }
}
