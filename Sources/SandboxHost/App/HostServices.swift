import AgentLoop
import Deploy
import Logging
import SandboxNetwork
import SandboxRuntime

/// The services, built once at start. `HostRouter` hands each controller only the few it uses,
/// typed by the protocols of `HTTP/Dependencies`.
public struct HostServices: Sendable {
    public let configuration: HostConfiguration
    public let database: Database
    public let users: UserStore
    public let projects: ProjectStore
    public let threads: ThreadStore
    public let workspaces: WorkspaceStore
    public let authenticator: Authenticator
    public let rateLimiter: RateLimiter
    public let sandboxes: SandboxStore
    public let runtime: SandboxRuntime
    /// The sandboxes' network (links, rules, resolver); nil: loopback only. Stopped at shutdown.
    public let network: NetworkManager?
    /// Whether sandboxes have a network, and why not (the deep health check).
    let networkStatus: Capability
    public let deployments: DeploymentStore
    let deploymentPaths: DeploymentPaths
    let deployer: DeployService
    public let agentRuns: AgentRunStore
    let agents: AgentService
    let devServers = DevServerRegistry()
    /// The projects' file watches (one inotify instance per watched project).
    let fileWatches: FileWatchRegistry
    /// Requests, starts and commands for `/metrics` (the runtime reports to it as `RuntimeTimings`).
    let metrics = HostMetrics()
    /// The last CPU reading of each sandbox whose metrics were asked for (`cpu_percent`).
    let cpuSampler = CPUSampler()
    /// The MCP sessions of `/mcp`, each a face of the services above.
    let mcpSessions: MCPSessions
    /// Every sandbox's terminals (`POST …/pty`).
    let terminals: TerminalRegistries
    /// The deep health check's runtime probe, shared for 30 s (the admin's calls probe afresh).
    let runtimeProbe = RuntimeProbeCache()
    /// Random per process start; `/api/health` reports it so clients can tell a restart.
    public let instanceID: String
    public let environment: [String: String]

    public init(
        configuration: HostConfiguration, database: Database, environment: [String: String] = [:],
        logger: Logger = Logger(label: "sandbox-host")
    ) throws {
        self.configuration = configuration
        self.database = database
        self.users = UserStore(database: database)
        self.projects = ProjectStore(database: database)
        self.threads = ThreadStore(database: database)
        self.workspaces = try Self.workspaceStore(configuration, database: database, logger: logger)
        self.authenticator = Authenticator(users: users)
        self.rateLimiter = RateLimiter(
            ratePerSecond: configuration.rateLimitPerSecond, burst: configuration.rateLimitBurst)
        self.sandboxes = SandboxStore(database: database)
        var runtimeConfiguration = RuntimeConfiguration(
            dataDir: configuration.dataDir, helperPath: SandboxRuntime.defaultHelperPath(environment: environment))
        runtimeConfiguration.defaultLimits = configuration.sandboxLimits
        runtimeConfiguration.idleTimeout = configuration.idleTimeout
        runtimeConfiguration.sessionLogBytes = configuration.sessionLogBytes
        runtimeConfiguration.defaultNetworkPolicy = configuration.defaultNetworkPolicy
        runtimeConfiguration.timings = metrics
        (self.network, self.networkStatus) = Self.startNetwork(
            configuration, defaultPolicy: runtimeConfiguration.defaultNetworkPolicy, environment: environment, logger: logger)
        self.runtime = try SandboxRuntime(
            configuration: runtimeConfiguration, store: sandboxes, workspaces: workspaces, logger: logger, networking: network)
        self.deployments = DeploymentStore(database: database)
        self.deploymentPaths = DeploymentPaths(dataDir: configuration.dataDir)
        let remotePolicy = RemotePolicy(allowedPrefixes: configuration.deployAllowedRemotes, protectedRoot: configuration.dataDir)
        if !remotePolicy.invalidEntries.isEmpty {
            logger.warning("SANDBOX_HOST_DEPLOY_ALLOWED_REMOTES entries ignored", metadata: ["entries": "\(remotePolicy.invalidEntries)"])
        }
        self.deployer = DeployService(
            store: deployments, paths: deploymentPaths, workspaces: workspaces, runtime: runtime, remotePolicy: remotePolicy, logger: logger)
        _ = try deployments.failInterrupted()
        self.agentRuns = AgentRunStore(database: database)
        let interrupted = try agentRuns.failInterrupted()
        if interrupted > 0 { logger.warning("agent runs interrupted by the last shutdown marked failed", metadata: ["count": "\(interrupted)"]) }
        self.agents = AgentService(
            provider: AgentService.loadProvider(environment: environment, dataDir: configuration.dataDir),
            runs: agentRuns, threads: threads, projects: projects, runtime: runtime, workspaces: workspaces,
            configuration: configuration, sandboxes: sandboxes, devServers: devServers, retry: Self.retryPolicy(environment), logger: logger)
        self.fileWatches = FileWatchRegistry(limits: WatchLimits(maxWatches: configuration.maxWatches, maxDepth: configuration.maxWalkDepth))
        self.mcpSessions = Self.mcpSessions(
            configuration, projects: projects, workspaces: workspaces, sandboxes: sandboxes, runtime: runtime, devServers: devServers,
            logger: logger)
        self.terminals = TerminalRegistries(maxTerminals: configuration.maxTerminals)
        self.instanceID = Identifier.randomHex(bytes: 12)
        self.environment = environment
    }

    /// The projects' workspaces; with disk images on, each project's volume mounted (as a killed
    /// host left it, or now) and the pool of ready images started.
    static func workspaceStore(_ configuration: HostConfiguration, database: Database, logger: Logger) throws -> WorkspaceStore {
        guard configuration.diskImages else { return WorkspaceStore(root: configuration.workspacesPath) }
        let projectIDs = try database.runBlocking { connection in
            Set(try connection.query("SELECT id FROM projects").map { try $0.text("id") })
        }
        return WorkspaceStore(
            root: configuration.workspacesPath, imagesDirectory: configuration.disksPath, diskMB: configuration.sandboxLimits.diskMB,
            inodesPerMB: configuration.diskInodesPerMB, poolSize: configuration.diskPoolSize, keeping: projectIDs, logger: logger)
    }

    /// Provider retries: `SANDBOX_HOST_LLM_MAX_ATTEMPTS` (5) tries, backoff from
    /// `SANDBOX_HOST_LLM_RETRY_MS` (500) doubling to 8 s.
    static func retryPolicy(_ environment: [String: String]) -> RetryPolicy {
        let attempts = environment["SANDBOX_HOST_LLM_MAX_ATTEMPTS"].flatMap(Int.init).map { min(max($0, 1), 20) } ?? 5
        let initial = environment["SANDBOX_HOST_LLM_RETRY_MS"].flatMap(Int.init).map { min(max($0, 1), 60_000) } ?? 500
        return RetryPolicy(attempts: attempts, initialDelay: .milliseconds(initial), maxDelay: .milliseconds(max(initial, 8_000)))
    }
}
