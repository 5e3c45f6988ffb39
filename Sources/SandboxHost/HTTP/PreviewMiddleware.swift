import HTTPTypes
import Hummingbird
import NIOPosix
import SandboxRuntime
#if canImport(Glibc)
import Glibc
#endif

/// Previews: a request for `{port}-{sandbox_id}.<domain>` or `/preview/{sandbox_id}/{port}/…` is
/// proxied to that port inside that sandbox, before any route or key check (a browser has no
/// key); `PreviewAccess` decides who may. WebSocket upgrades of the same URLs are taken by
/// `PreviewWebSocket` before they reach here.
struct PreviewMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    /// What a preview uses.
    struct Services: Sendable {
        let access: PreviewAccess
        let runtime: any SandboxPorts & SandboxActivity
        /// Previews are `{port}-{sandbox_id}.<previewDomain>` (or under `/preview/`).
        let previewDomain: String
        let connectTimeout: Duration
    }

    let services: Services
    let proxy: PreviewProxy

    init(services: Services) {
        self.services = services
        self.proxy = PreviewProxy(connectTimeout: services.connectTimeout, group: MultiThreadedEventLoopGroup.singleton)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let host = request.head.authority ?? request.headers[AppsHostMiddleware.hostField]
        let uri = request.uri.description
        guard let target = PreviewTarget.parse(host: host, uri: uri, domain: services.previewDomain) else {
            return try await next(request, context)
        }
        let decision = try await services.access.check(target, uri: uri, headers: request.headers)
        if case .tokenInURL(let token) = decision.grant {
            // Keep the token in a cookie of this preview and take it out of the URL the app sees.
            var headers = HTTPFields()
            headers[.location] = target.prefix + PreviewCookie.removingToken(target.upstreamPath)
            for cookie in PreviewCookie.setCookies(target, token: token) { headers.append(HTTPField(name: .setCookie, value: cookie)) }
            headers[.cacheControl] = "no-store"
            return Response(status: .found, headers: headers)
        }
        if target.form == .path, !uri.hasPrefix(target.prefix + "/") {
            // `/preview/id/3000` → `/preview/id/3000/`, so the app's relative links resolve under it.
            return Response(status: .movedPermanently, headers: [.location: target.prefix + "/" + target.upstreamPath.dropFirst()])
        }
        guard let initProcess = await services.runtime.initProcessDescriptor(decision.record.id) else {
            throw HostError(.sandboxUnavailable, "the sandbox is not running: start it and its dev server")
        }
        defer { close(initProcess) }
        services.runtime.touch(decision.record.id)
        return try await proxy.forward(request, to: PreviewProxy.Upstream(
            initProcess: initProcess, target: target, publicHost: host ?? "localhost", dropAuthorization: decision.dropAuthorization),
            on: context.eventLoop)
    }
}
