/// The resources one sandbox may use, enforced by cgroups (disk by the /tmp size for now).
public struct SandboxLimits: Sendable, Equatable, Codable {
    public var memoryMB: Int = 2048
    public var cpus: Double = 1
    public var pids: Int = 512
    public var diskMB: Int = 1024

    public init() {}

    enum CodingKeys: String, CodingKey {
        case memoryMB = "memory_mb", cpus, pids, diskMB = "disk_mb"
    }
}
