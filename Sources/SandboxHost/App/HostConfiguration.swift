import FileAPI
import SandboxNetwork
import SandboxRuntime

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
    /// Caps on one multipart upload: file parts (each is a staged file and a descriptor until
    /// the whole body is in) and other parts (text fields, nameless parts).
    public var multipartLimits = MultipartLimits()

    /// How long a preview's app may take to accept the connection (504 after).
    public var previewConnectTimeout: Duration = .seconds(5)
    /// Connection limits and timeouts of the HTTP server (`ConnectionLimits`).
    public var connectionLimits = ConnectionLimits()
    /// Remote prefixes a deployment may push to beyond public `https`/`ssh`/`git` hosts: local
    /// paths, `file://`, `http://`, hosts on private or loopback addresses (a LAN git server).
    /// Never anything under `dataDir`, whatever is listed.
    public var deployAllowedRemotes: [String] = []
    /// Levels below its base a recursive walk (tree, search, download) goes at most (1…1000).
    public var maxWalkDepth = WorkspaceRoot.defaultMaxDepth
    /// Directories one project's file watch watches at most (inotify watches; each costs the
    /// kernel about 1 KiB and counts against the host's `max_user_watches`).
    public var maxWatches = 8_192
    /// A download the client stops reading for this long is closed (and its walk released).
    public var downloadWriteTimeout: Duration = .seconds(60)
    /// How long one file search may run, and how many bytes it may read, before it answers what
    /// it found with `truncated`.
    public var searchTimeBudget: Duration = .seconds(5)
    public var searchMaxBytes: Int64 = 256 << 20
    /// File searches running at once (each on a thread of its own, off the shared pool), and
    /// waiting beyond those (429 when full).
    public var searchThreads = 2
    public var searchQueue = 8
    /// What each session keeps of its output on disk, in bytes (`SANDBOX_HOST_SESSION_LOG_MB`).
    public var sessionLogBytes = 64 << 20
    /// Entries (list), nodes (tree), matches (search) and bytes of JSON one answer holds at most;
    /// more is cut and the answer says `truncated`.
    public var responseLimits = ResponseLimits()

    /// Sandboxes get a network of their own (a link, nftables rules, a resolver); off: loopback
    /// only (`SANDBOX_HOST_NETWORK`, `on`|`off`). Read with the rest by `readNetworkEnvironment`.
    public var networkEnabled = true
    /// The policy of a project that set none (`SANDBOX_HOST_NETWORK_DEFAULT`: a mode or a policy object).
    public var defaultNetworkPolicy = NetworkPolicy.open
    /// Private blocks opened to every sandbox (`SANDBOX_HOST_NETWORK_ALLOW_PRIVATE`), each inside a
    /// private range; never the sandboxes' own range nor the host's addresses.
    public var networkAllowPrivate: [AddressBlock] = []
    /// The private IPv4 block sandbox links are addressed from (`SANDBOX_HOST_NETWORK_RANGE`).
    public var networkRange = HostConfiguration.defaultNetworkRange
    /// Where the sandboxes' resolver forwards (`SANDBOX_HOST_DNS_UPSTREAM`); empty: the host's own.
    public var dnsUpstream: [DNSUpstream] = []
    /// Browser origins that may call `/api/*` (`SANDBOX_HOST_CORS_ORIGINS`: comma-separated, or
    /// `*`); off by default.
    public var cors = CORSPolicy()
    /// `GET /metrics` without a key (`SANDBOX_HOST_METRICS_PUBLIC=1`); off: the admin key only.
    public var metricsPublic = false
    /// MCP sessions (`/mcp`) open at once, every key together (`SANDBOX_HOST_MCP_MAX_SESSIONS`): a new
    /// one beyond it replaces the caller's own least recently used idle session, else gets 429.
    public var mcpMaxSessions = 64
    /// An MCP session with no request for this long is closed (`SANDBOX_HOST_MCP_SESSION_IDLE_SECONDS`).
    public var mcpSessionIdle: Duration = .seconds(600)
    /// Bytes one MCP session may carry (requests and answers; the SDK keeps its answers for
    /// resumption until the session ends) before it is closed (`SANDBOX_HOST_MCP_SESSION_MAX_MB`).
    public var mcpSessionBytes = 16 << 20

    /// Terminals (`POST …/pty`) running at once in one sandbox (`SANDBOX_HOST_MAX_TERMINALS`);
    /// one more answers 409.
    public var maxTerminals = 8

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
        if let value = environment["SANDBOX_HOST_MULTIPART_MAX_FILES"].flatMap(Int.init), value > 0 { configuration.multipartLimits.maxFiles = value }
        if let value = environment["SANDBOX_HOST_MULTIPART_MAX_FIELDS"].flatMap(Int.init), value > 0 { configuration.multipartLimits.maxFields = value }
        if let value = environment["SANDBOX_HOST_MULTIPART_MAX_STAGED_FILES"].flatMap(Int.init), value > 0 {
            configuration.multipartLimits.maxStagedFiles = value
        }
        if let value = environment["SANDBOX_HOST_PREVIEW_CONNECT_TIMEOUT_MS"].flatMap(Int.init), value > 0 {
            configuration.previewConnectTimeout = .milliseconds(value)
        }
        configuration.connectionLimits = ConnectionLimits.fromEnvironment(environment)
        if let value = environment["SANDBOX_HOST_DEPLOY_ALLOWED_REMOTES"] {
            configuration.deployAllowedRemotes = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        if let value = environment["SANDBOX_HOST_MAX_WALK_DEPTH"].flatMap(Int.init) { configuration.maxWalkDepth = min(max(value, 1), 1000) }
        if let value = environment["SANDBOX_HOST_MAX_WATCHES"].flatMap(Int.init), value > 0 { configuration.maxWatches = value }
        if let value = environment["SANDBOX_HOST_DOWNLOAD_WRITE_TIMEOUT"].flatMap(Double.init), value > 0 {
            configuration.downloadWriteTimeout = .milliseconds(Int(value * 1000))
        }
        if let value = environment["SANDBOX_HOST_SEARCH_TIME_BUDGET_MS"].flatMap(Int.init), value >= 0 {
            configuration.searchTimeBudget = .milliseconds(value)
        }
        if let value = environment["SANDBOX_HOST_SEARCH_MAX_BYTES"].flatMap(Int64.init), value >= 0 { configuration.searchMaxBytes = value }
        if let value = environment["SANDBOX_HOST_SEARCH_THREADS"].flatMap(Int.init), value >= 1 { configuration.searchThreads = min(value, 64) }
        if let value = environment["SANDBOX_HOST_SEARCH_QUEUE"].flatMap(Int.init), value >= 0 { configuration.searchQueue = value }
        if let value = environment["SANDBOX_HOST_MAX_TERMINALS"].flatMap(Int.init), value >= 1 { configuration.maxTerminals = min(value, 1024) }
        if let value = environment["SANDBOX_HOST_SESSION_LOG_MB"].flatMap(Int.init), value > 0 { configuration.sessionLogBytes = value << 20 }
        if let value = environment["SANDBOX_HOST_MAX_RESPONSE_ENTRIES"].flatMap(Int.init), value >= 1 {
            configuration.responseLimits.maxEntries = value
        }
        if let value = environment["SANDBOX_HOST_MAX_RESPONSE_BYTES"].flatMap(Int.init), value >= 1 {
            configuration.responseLimits.maxBytes = value
        }
        if let value = environment["SANDBOX_HOST_CORS_ORIGINS"] { configuration.cors = CORSPolicy(parsing: value) }
        if let value = environment["SANDBOX_HOST_METRICS_PUBLIC"] { configuration.metricsPublic = ["1", "true", "on", "yes"].contains(value.lowercased()) }
        if let value = environment["SANDBOX_HOST_MCP_MAX_SESSIONS"].flatMap(Int.init), value >= 1 { configuration.mcpMaxSessions = min(value, 10_000) }
        if let value = environment["SANDBOX_HOST_MCP_SESSION_IDLE_SECONDS"].flatMap(Int.init), value >= 1 { configuration.mcpSessionIdle = .seconds(value) }
        if let value = environment["SANDBOX_HOST_MCP_SESSION_MAX_MB"].flatMap(Int.init), value >= 1 { configuration.mcpSessionBytes = min(value, 1 << 20) << 20 }
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
