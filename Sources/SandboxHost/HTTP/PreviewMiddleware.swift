import Foundation
import HTTPTypes
import Hummingbird
import NIOPosix

/// Previews: a request for `{port}-{sandbox_id}.<domain>` or `/preview/{sandbox_id}/{port}/…` is
/// proxied to that port inside that sandbox, before any route or key check (a browser has no
/// key). Access needs the sandbox's preview token (once in the URL, then in a cookie scoped to
/// the preview) or an API key of the sandbox's owner; otherwise 404, as for a sandbox that does
/// not exist.
struct PreviewMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let services: HostServices
    let proxy: PreviewProxy

    init(services: HostServices) {
        self.services = services
        self.proxy = PreviewProxy(threadPool: .singleton, group: MultiThreadedEventLoopGroup.singleton)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let host = request.head.authority ?? request.headers[AppsHostMiddleware.hostField]
        let uri = request.uri.description
        guard let target = PreviewTarget.parse(host: host, uri: uri, domain: services.configuration.previewDomain) else {
            return try await next(request, context)
        }
        guard let (record, owner) = try await services.sandboxes.withOwner(id: target.sandboxID) else { throw HostError.notFound("preview") }
        let token = try await services.sandboxes.previewToken(id: record.id)
        var dropAuthorization = false
        if let given = PreviewCookie.queryToken(uri), Self.same(given, token) {
            // Keep the token in a cookie of this preview and take it out of the URL the app sees.
            var headers = HTTPFields()
            headers[.location] = target.prefix + PreviewCookie.removingToken(target.upstreamPath)
            headers[.setCookie] = PreviewCookie.setCookie(target, token: token)
            headers[.cacheControl] = "no-store"
            return Response(status: .found, headers: headers)
        } else if let cookie = PreviewCookie.token(in: request.headers[.cookie], sandboxID: record.id), Self.same(cookie, token) {
            // The preview's own cookie.
        } else if let key = Self.bearer(request), let identity = try await services.authenticator.authenticate(key),
                  identity.userID == owner {
            dropAuthorization = true
        } else {
            throw HostError.notFound("preview")
        }
        if target.form == .path, !uri.hasPrefix(target.prefix + "/") {
            // `/preview/id/3000` → `/preview/id/3000/`, so the app's relative links resolve under it.
            return Response(status: .movedPermanently, headers: [.location: target.prefix + "/" + target.upstreamPath.dropFirst()])
        }
        guard let pid = await services.runtime.initPID(record.id) else {
            throw HostError(.sandboxUnavailable, "the sandbox is not running: start it and its dev server")
        }
        services.runtime.touch(record.id)
        return try await proxy.forward(request, to: PreviewProxy.Upstream(
            initPID: pid, target: target, publicHost: host ?? "localhost", dropAuthorization: dropAuthorization))
    }

    /// An API key in `Authorization` (never `?token=`: that query may be the app's own).
    static func bearer(_ request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }

    static func same(_ lhs: String, _ rhs: String) -> Bool {
        APIKey.constantTimeEqual(Array(lhs.utf8), Array(rhs.utf8))
    }
}
