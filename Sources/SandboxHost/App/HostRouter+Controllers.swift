import SandboxNetwork

/// Each controller gets only the services it uses, typed by the protocols of HTTP/Dependencies:
/// composed here, from the services built at start, and nowhere else.
extension HostRouter {
    static func preview(_ services: HostServices) -> PreviewMiddleware {
        PreviewMiddleware(services: .init(
            access: PreviewAccess(sandboxes: services.sandboxes, authenticator: services.authenticator), runtime: services.runtime,
            previewDomain: services.configuration.previewDomain, connectTimeout: services.configuration.previewConnectTimeout))
    }

    static func health(_ services: HostServices) -> HealthController {
        HealthController(services: .init(
            instanceID: services.instanceID, authenticator: services.authenticator, database: services.database,
            runtimeProbe: services.runtimeProbe, dataDir: services.configuration.dataDir,
            diskReserveBytes: services.configuration.diskReserveBytes, provider: services.agents.provider,
            network: services.networkStatus, networkChecks: { [probe = services.network?.probe] in
                await probe?.capabilities() ?? []
            }))
    }

    static func projects(_ services: HostServices) -> ProjectsController {
        ProjectsController(services: .init(
            projects: services.projects, images: services.runtime.images, workspaces: services.workspaces,
            sandboxes: services.sandboxes, runtime: services.runtime, deploymentPaths: services.deploymentPaths))
    }

    static func threads(_ services: HostServices) -> ThreadsController {
        ThreadsController(services: .init(projects: services.projects, threads: services.threads))
    }

    static func sandboxes(_ services: HostServices) -> SandboxesController {
        SandboxesController(services: .init(projects: services.projects, sandboxes: services.sandboxes, runtime: services.runtime))
    }

    static func network(_ services: HostServices) -> NetworkController {
        NetworkController(services: .init(sandboxes: services.sandboxes, runtime: services.runtime))
    }

    static func sessions(_ services: HostServices) -> SessionsController {
        SessionsController(
            services: .init(sandboxes: services.sandboxes, runtime: services.runtime), heartbeat: services.configuration.heartbeat)
    }

    static func terminals(_ services: HostServices) -> TerminalsController {
        TerminalsController(services: .init(sandboxes: services.sandboxes, runtime: services.runtime, terminals: services.terminals))
    }

    static func files(_ services: HostServices) -> FilesController {
        FilesController(services: .init(
            sandboxes: services.sandboxes, projects: services.projects, workspaces: services.workspaces,
            runtime: services.runtime, configuration: services.configuration))
    }

    static func fileWatch(_ services: HostServices) -> WatchController {
        WatchController(services: .init(
            sandboxes: services.sandboxes, workspaces: services.workspaces, watches: services.fileWatches,
            heartbeat: services.configuration.heartbeat))
    }

    static func devServers(_ services: HostServices) -> DevServerController {
        let launcher = DevServerLauncher(runtime: services.runtime, workspaces: services.workspaces, registry: services.devServers)
        return DevServerController(services: .init(
            sandboxes: services.sandboxes, runtime: services.runtime, devServers: services.devServers, launcher: launcher,
            configuration: services.configuration))
    }

    static func agentRuns(_ services: HostServices) -> AgentRunsController {
        AgentRunsController(services: .init(
            agents: services.agents, agentRuns: services.agentRuns, projects: services.projects,
            workspaces: services.workspaces, runtime: services.runtime, threads: services.threads,
            heartbeat: services.configuration.heartbeat))
    }

    static func models(_ services: HostServices) -> ModelsController {
        ModelsController(provider: services.agents.provider)
    }

    static func metrics(_ services: HostServices) -> MetricsController {
        MetricsController(services: .init(
            sandboxes: services.sandboxes, usage: services.runtime, counting: MetricsStore(database: services.database),
            authenticator: services.authenticator, metrics: services.metrics, sampler: services.cpuSampler,
            isPublic: services.configuration.metricsPublic))
    }

    static func mcp(_ services: HostServices) -> MCPController {
        MCPController(sessions: services.mcpSessions, maxBodyBytes: services.configuration.maxBodyBytes)
    }

    static func deployments(_ services: HostServices) -> DeploymentsController {
        DeploymentsController(services: .init(
            projects: services.projects, deployer: services.deployer, deployments: services.deployments,
            site: DeploymentSite(paths: services.deploymentPaths), port: services.configuration.port))
    }
}
