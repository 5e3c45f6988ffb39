import HTTPTypes
import Hummingbird

/// Builds the router: middleware outermost first, then one controller per resource.
public enum HostRouter {
    public static func build(services: HostServices) -> Router<AppRequestContext> {
        let router = Router(context: AppRequestContext.self)
        // Order matters: the log sees the final status, errors become contract bodies before the
        // log, and the rate limit needs the identity that auth sets.
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: ErrorMiddleware())
        // Previews before the body limit and the key check: their bodies stream to the app, and
        // they carry a preview token (or the owner's key), checked there.
        router.add(middleware: PreviewMiddleware(services: services))
        router.add(middleware: AppsHostMiddleware(site: DeploymentSite(paths: services.deploymentPaths)))
        router.add(middleware: BodyLimitMiddleware(maxBodyBytes: services.configuration.maxBodyBytes))
        router.add(middleware: AuthMiddleware(authenticator: services.authenticator))
        router.add(middleware: RateLimitMiddleware(limiter: services.rateLimiter))

        router.addRoutes(HealthController(services: services).endpoints, atPath: "/api/health")
        router.addRoutes(ProjectsController(services: services).endpoints, atPath: "/api/projects")
        router.addRoutes(ThreadsController(services: services).endpoints, atPath: "/api/threads")
        let sandboxes = SandboxesController(services: services)
        router.addRoutes(sandboxes.projectEndpoints, atPath: "/api/project")
        router.addRoutes(sandboxes.endpoints, atPath: "/api/sandboxes")
        router.addRoutes(
            SessionsController(services: services, heartbeat: services.configuration.heartbeat).endpoints, atPath: "/api/sandboxes")
        router.addRoutes(FilesController(services: services).endpoints, atPath: "/api/sandboxes")
        router.addRoutes(DevServerController(services: services).endpoints, atPath: "/api/sandboxes")
        let agentRuns = AgentRunsController(services: services)
        router.addRoutes(agentRuns.threadEndpoints, atPath: "/api/thread")
        router.addRoutes(agentRuns.agentEndpoints, atPath: "/api/agent")
        router.addRoutes(agentRuns.runEndpoints, atPath: "/api/agent-run")
        router.addRoutes(ModelsController(services: services).endpoints, atPath: "/api/models")
        let deployments = DeploymentsController(services: services)
        router.addRoutes(deployments.endpoints, atPath: "/api/project")
        router.addRoutes(deployments.siteEndpoints, atPath: "/deployments")
        // Paths no route knows: a site's on its `{project_id}.apps.localhost` host, else 404.
        let appsHost = AppsHostMiddleware(site: DeploymentSite(paths: services.deploymentPaths))
        router.get("**") { request, context in
            try await appsHost.handle(request, context: context) { _, _ in throw HostError.notFound("route") }
        }
        // Every other method too, so a preview (matched by the middleware above) can be any request.
        for method in [HTTPRequest.Method.post, .put, .patch, .delete, .head, .options] {
            router.on("**", method: method) { _, _ -> Response in throw HostError.notFound("route") }
        }
        return router
    }
}
