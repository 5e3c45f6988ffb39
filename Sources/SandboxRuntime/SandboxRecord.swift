/// A project's sandbox as stored: identity, id range, image and limits. Whether it runs is the
/// runtime's to say (`SandboxRuntime.isRunning`), not the database's.
public struct SandboxRecord: Sendable, Equatable {
    public enum State: String, Sendable, Encodable { case running, stopped }

    public let id: String
    public let projectID: String
    /// Picks the sandbox's host uid range: `SandboxRecord.uidBase(slot:)`.
    public let slot: Int
    public let image: String
    public let limits: SandboxLimits
    public let createdAt: String
    public var lastActiveAt: String
    /// The project's network policy; nil: the host's default (`RuntimeConfiguration.defaultNetworkPolicy`).
    public var network: NetworkPolicy?

    /// Sandbox root is host uid `2^20 + slot·65536`: above any ordinary account, one range each.
    public init(
        id: String, projectID: String, slot: Int, image: String, limits: SandboxLimits, createdAt: String, lastActiveAt: String,
        network: NetworkPolicy? = nil
    ) {
        self.id = id
        self.projectID = projectID
        self.slot = slot
        self.image = image
        self.limits = limits
        self.createdAt = createdAt
        self.lastActiveAt = lastActiveAt
        self.network = network
    }

    public var uidBase: UInt32 { UInt32(1 << 20) + UInt32(slot) * 65_536 }
}
