import HTTPTypes
import Hummingbird

/// Builds the router: middleware outermost first, then one controller per resource.
public enum HostRouter {
    public static func build(services: HostServices) -> Router<AppRequestContext> {
        let router = Router(context: AppRequestContext.self)
        // Order matters: the metrics and the log see the final status, errors become contract
        // bodies before either, and the rate limit needs the identity that auth sets. Metrics
        // first of all: every request counts, by the route pattern the router matched.
        router.add(middleware: MetricsRequestMiddleware(metrics: services.metrics))
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: ErrorMiddleware())
        // Previews before the body limit and the key check: their bodies stream to the app, and
        // they carry a preview token (or the owner's key), checked there.
        router.add(middleware: preview(services))
        router.add(middleware: AppsHostMiddleware(site: DeploymentSite(paths: services.deploymentPaths)))
        // CORS after previews and sites (theirs are the apps' own answers), before the key check
        // (a preflight carries no key), turning errors into bodies itself so they carry its headers.
        router.add(middleware: CORSMiddleware(policy: services.configuration.cors))
        router.add(middleware: BodyLimitMiddleware(maxBodyBytes: services.configuration.maxBodyBytes))
        router.add(middleware: AuthMiddleware(authenticator: services.authenticator))
        router.add(middleware: RateLimitMiddleware(limiter: services.rateLimiter))
        // Filled below, once every route is known: a known path with another method is 405.
        let routeMethods = RouteMethods()
        router.add(middleware: MethodNotAllowedMiddleware(routes: routeMethods))

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
        router.addRoutes(fileWatch(services).endpoints, atPath: "/api/sandboxes")
        router.addRoutes(devServers(services).endpoints, atPath: "/api/sandboxes")
        let metricsRoutes = metrics(services)
        router.addRoutes(metricsRoutes.sandboxEndpoints, atPath: "/api/sandboxes")
        router.addRoutes(metricsRoutes.endpoints, atPath: "/metrics")
        let runRoutes = agentRuns(services)
        router.addRoutes(runRoutes.threadEndpoints, atPath: "/api/thread")
        router.addRoutes(runRoutes.agentEndpoints, atPath: "/api/agent")
        router.addRoutes(runRoutes.runEndpoints, atPath: "/api/agent-run")
        router.addRoutes(models(services).endpoints, atPath: "/api/models")
        router.addRoutes(mcp(services).endpoints, atPath: "/mcp")
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
        routeMethods.load(router.routes.map { ($0.path.description, $0.method) })
        return router
    }
}
