/// How healthy one part of the host is, worst last so `max` picks the worst.
public enum HealthStatus: String, Sendable, Encodable, Comparable {
    case ok, degraded, critical

    private var rank: Int {
        switch self {
        case .ok: 0
        case .degraded: 1
        case .critical: 2
        }
    }

    public static func < (lhs: HealthStatus, rhs: HealthStatus) -> Bool { lhs.rank < rhs.rank }
}

/// One thing the sandbox runtime needs from the kernel, and whether this machine has it.
public struct Capability: Sendable, Encodable, Equatable {
    public let name: String
    public let status: HealthStatus
    public let detail: String
    /// What to do when `status` is not `ok`; empty otherwise.
    public let fix: String

    public init(name: String, status: HealthStatus, detail: String, fix: String) {
        self.name = name
        self.status = status
        self.detail = detail
        self.fix = fix
    }
}
