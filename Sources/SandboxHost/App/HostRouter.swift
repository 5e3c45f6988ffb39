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
        router.add(middleware: preview(services))
        router.add(middleware: AppsHostMiddleware(site: DeploymentSite(paths: services.deploymentPaths)))
        router.add(middleware: BodyLimitMiddleware(maxBodyBytes: services.configuration.maxBodyBytes))
        router.add(middleware: AuthMiddleware(authenticator: services.authenticator))
        router.add(middleware: RateLimitMiddleware(limiter: services.rateLimiter))

        router.addRoutes(health(services).endpoints, atPath: "/api/health")
        router.addRoutes(projects(services).endpoints, atPath: "/api/projects")
        router.addRoutes(threads(services).endpoints, atPath: "/api/threads")
        let sandboxRoutes = sandboxes(services)
        router.addRoutes(sandboxRoutes.projectEndpoints, atPath: "/api/project")
        router.addRoutes(sandboxRoutes.endpoints, atPath: "/api/sandboxes")
        router.addRoutes(network(services).endpoints, atPath: "/api/sandboxes")
        router.addRoutes(sessions(services).endpoints, atPath: "/api/sandboxes")
        router.addRoutes(terminals(services).endpoints, atPath: "/api/sandboxes")
        router.addRoutes(files(services).endpoints, atPath: "/api/sandboxes")
        router.addRoutes(devServers(services).endpoints, atPath: "/api/sandboxes")
        let runRoutes = agentRuns(services)
        router.addRoutes(runRoutes.threadEndpoints, atPath: "/api/thread")
        router.addRoutes(runRoutes.agentEndpoints, atPath: "/api/agent")
        router.addRoutes(runRoutes.runEndpoints, atPath: "/api/agent-run")
        router.addRoutes(models(services).endpoints, atPath: "/api/models")
        let deploymentRoutes = deployments(services)
        router.addRoutes(deploymentRoutes.endpoints, atPath: "/api/project")
        router.addRoutes(deploymentRoutes.siteEndpoints, atPath: "/deployments")
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
