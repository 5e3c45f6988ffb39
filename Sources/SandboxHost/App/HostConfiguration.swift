import FileAPI

/// Everything the host is configured with; each field has a flag and an environment variable.
public struct HostConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8000
    public var dataDir: String = "./data"
    /// Largest JSON request body, in bytes (413 beyond it).
    public var maxBodyBytes: Int = 1 << 20
    /// Sustained requests per second per API key; 0 turns the limit off.
    public var rateLimitPerSecond: Double = 200
    /// Requests a key may send at once before the sustained rate applies.
    public var rateLimitBurst: Double = 1_000
    /// Default resources of each sandbox.
    public var sandboxLimits = SandboxLimits()
    /// How often a Server-Sent Events stream with nothing to say sends a `ping` (the contract: ≤ 15 s).
    public var heartbeat: Duration = .seconds(15)
    /// A sandbox with no API activity and nothing running for this long is stopped.
    public var idleTimeout: Duration = .seconds(30 * 60)

    /// Largest body of a file upload, raw PUT or archive upload, in bytes (413 beyond it).
    public var maxUploadBytes: Int64 = 2 << 30
    /// Disk space one workspace may use, in bytes (507 for a write beyond it).
    public var workspaceQuotaBytes: Int64 = 10 << 30
    /// Give each project a disk image of `sandboxLimits.diskMB` (its workspace and its sandbox's
    /// writable layers share that budget); false: plain directories, no budget.
    public var diskImages = true
    /// Inodes per MiB of a project's disk budget.
    public var diskInodesPerMB = 128
    /// Disk images of the default size kept ready, so creating a project skips mkfs.
    public var diskPoolSize = 2
    /// Below this much free space in the data directory, writes answer 507 and health says `disk` degraded.
    public var diskReserveBytes: Int64 = 1024 << 20
    /// Preview hosts are `{port}-{sandbox_id}.<previewDomain>`; `*.localhost` resolves to the
    /// loopback in browsers, so the default needs no DNS on one machine.
    public var previewDomain = "preview.localhost"
    /// Caps on one archive upload.
    public var extractionLimits = ExtractionLimits()

    public init() {}

    /// Defaults overridden by `SANDBOX_HOST_*` environment variables.
    public static func fromEnvironment(_ environment: [String: String]) -> HostConfiguration {
        var configuration = HostConfiguration()
        if let value = environment["SANDBOX_HOST_HOST"], !value.isEmpty { configuration.host = value }
        if let value = environment["SANDBOX_HOST_PORT"].flatMap(Int.init) { configuration.port = value }
        if let value = environment["SANDBOX_HOST_DATA_DIR"], !value.isEmpty { configuration.dataDir = value }
        if let value = environment["SANDBOX_HOST_MAX_BODY_BYTES"].flatMap(Int.init) { configuration.maxBodyBytes = value }
        if let value = environment["SANDBOX_HOST_RATE_LIMIT"].flatMap(Double.init) { configuration.rateLimitPerSecond = value }
        if let value = environment["SANDBOX_HOST_RATE_BURST"].flatMap(Double.init) { configuration.rateLimitBurst = value }
        if let value = environment["SANDBOX_HOST_SANDBOX_MEMORY_MB"].flatMap(Int.init) { configuration.sandboxLimits.memoryMB = value }
        if let value = environment["SANDBOX_HOST_SANDBOX_CPUS"].flatMap(Double.init) { configuration.sandboxLimits.cpus = value }
        if let value = environment["SANDBOX_HOST_SANDBOX_PIDS"].flatMap(Int.init) { configuration.sandboxLimits.pids = value }
        if let value = environment["SANDBOX_HOST_SANDBOX_DISK_MB"].flatMap(Int.init) { configuration.sandboxLimits.diskMB = value }
        if let value = environment["SANDBOX_HOST_HEARTBEAT_MS"].flatMap(Int.init), value > 0 { configuration.heartbeat = .milliseconds(value) }
        if let value = environment["SANDBOX_HOST_IDLE_TIMEOUT"].flatMap(Int.init) { configuration.idleTimeout = .seconds(value) }
        if let value = environment["SANDBOX_HOST_PREVIEW_DOMAIN"], !value.isEmpty { configuration.previewDomain = value.lowercased() }
        if let value = environment["SANDBOX_HOST_MAX_UPLOAD_BYTES"].flatMap(Int64.init) { configuration.maxUploadBytes = value }
        if let value = environment["SANDBOX_HOST_WORKSPACE_QUOTA_MB"].flatMap(Int64.init) {
            configuration.workspaceQuotaBytes = value << 20
        }
        if let value = environment["SANDBOX_HOST_DISK_IMAGES"] { configuration.diskImages = !["0", "false", "off", "no"].contains(value.lowercased()) }
        if let value = environment["SANDBOX_HOST_DISK_INODES_PER_MB"].flatMap(Int.init), value > 0 { configuration.diskInodesPerMB = value }
        if let value = environment["SANDBOX_HOST_DISK_POOL"].flatMap(Int.init), value >= 0 { configuration.diskPoolSize = value }
        if let value = environment["SANDBOX_HOST_DISK_RESERVE_MB"].flatMap(Int64.init), value >= 0 { configuration.diskReserveBytes = value << 20 }
        if let value = environment["SANDBOX_HOST_ARCHIVE_MAX_BYTES"].flatMap(Int64.init) { configuration.extractionLimits.maxBytes = value }
        if let value = environment["SANDBOX_HOST_ARCHIVE_MAX_ENTRIES"].flatMap(Int.init) { configuration.extractionLimits.maxEntries = value }
        return configuration
    }

    var databasePath: String { dataDir + "/sandbox-host.sqlite3" }
    var adminKeyPath: String { dataDir + "/admin.key" }
    var workspacesPath: String { dataDir + "/workspaces" }
    /// Projects' disk images (`<project_id>.img`) and the pool of ready ones.
    var disksPath: String { dataDir + "/disks" }
    /// Uploads and archive extractions in progress; emptied at every start.
    var stagingPath: String { dataDir + "/staging" }
}
