import Logging

/// The services every controller draws on, built once at start.
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
    public let deployments: DeploymentStore
    let deploymentPaths: DeploymentPaths
    let deployer: DeployService
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
        self.workspaces = WorkspaceStore(root: configuration.workspacesPath)
        self.authenticator = Authenticator(users: users)
        self.rateLimiter = RateLimiter(
            ratePerSecond: configuration.rateLimitPerSecond, burst: configuration.rateLimitBurst)
        self.sandboxes = SandboxStore(database: database)
        var runtimeConfiguration = SandboxRuntime.Configuration(
            dataDir: configuration.dataDir, helperPath: SandboxRuntime.defaultHelperPath(environment: environment))
        runtimeConfiguration.defaultLimits = configuration.sandboxLimits
        runtimeConfiguration.idleTimeout = configuration.idleTimeout
        self.runtime = try SandboxRuntime(
            configuration: runtimeConfiguration, database: database, workspaces: workspaces, logger: logger)
        self.deployments = DeploymentStore(database: database)
        self.deploymentPaths = DeploymentPaths(dataDir: configuration.dataDir)
        self.deployer = DeployService(
            store: deployments, paths: deploymentPaths, workspaces: workspaces, runtime: runtime, logger: logger)
        _ = try deployments.failInterrupted()
        self.instanceID = Identifier.randomHex(bytes: 12)
        self.environment = environment
    }
}
