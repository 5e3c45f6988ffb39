import HTTPTypes
import Hummingbird

/// CORS for `/api/*`, per `CORSPolicy` (`SANDBOX_HOST_CORS_ORIGINS`); does nothing when it is off.
///
/// A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered here,
/// before the body limit and the key check (a browser sends no credentials with it): 204 with
/// the methods and the `Authorization`, `Content-Type`, `Last-Event-ID` request headers for an
/// allowed origin; 403 without any `Access-Control-*` header for another. Every other answer
/// to an allowed origin, errors and event streams included, carries `Access-Control-Allow-Origin`
/// (the origin itself with `Vary: Origin`, or `*` when any origin is allowed, then never with
/// credentials). It sits after the preview and deployed-site middlewares, which answer their own
/// requests: an app's `/api/…` on its preview host is the app's business, not ours.
struct CORSMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let policy: CORSPolicy

    static let allowedMethods = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
    static let allowedHeaders = "Authorization, Content-Type, Last-Event-ID"
    /// What a page's script may read beyond the CORS-safelisted response headers.
    static let exposedHeaders = "Content-Disposition, Content-Range, Accept-Ranges, Content-Length, Retry-After, WWW-Authenticate, Allow"
    /// How long a browser may reuse a preflight's answer, in seconds.
    static let maxAge = "600"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard policy.isEnabled, path == "/api" || path.hasPrefix("/api/") else { return try await next(request, context) }
        let origin = request.headers[.origin]
        if request.method == .options, let origin, request.headers[.accessControlRequestMethod] != nil {
            return preflight(origin: origin)
        }
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            // Made into the contract's body here, not outside, so that errors carry the headers too.
            response = ErrorMiddleware.response(for: error, logger: context.logger)
        }
        allow(origin, in: &response.headers)
        return response
    }

    private func preflight(origin: String) -> Response {
        guard policy.allows(origin) else {
            return ErrorBody.response(
                status: .forbidden, code: "FORBIDDEN",
                detail: "origin \(origin) may not call this API from a browser (SANDBOX_HOST_CORS_ORIGINS)", headers: [.vary: "Origin"])
        }
        var headers: HTTPFields = [
            .accessControlAllowMethods: Self.allowedMethods, .accessControlAllowHeaders: Self.allowedHeaders,
            .accessControlMaxAge: Self.maxAge,
        ]
        allow(origin, in: &headers)
        return Response(status: .noContent, headers: headers)
    }

    /// The allow-origin headers for `origin` when it is allowed; `Vary: Origin` whatever it is,
    /// since the answer depends on it.
    private func allow(_ origin: String?, in headers: inout HTTPFields) {
        if !policy.anyOrigin { headers.append(HTTPField(name: .vary, value: "Origin")) }
        guard let origin, policy.allows(origin) else { return }
        headers[.accessControlExposeHeaders] = Self.exposedHeaders
        if policy.anyOrigin {
            headers[.accessControlAllowOrigin] = "*"
        } else {
            // No Allow-Credentials: the API takes its key in a header, never a cookie, so a
            // listed origin gains nothing from credentials and a cookie for this domain (a
            // preview's, on the same site) can never authenticate a cross-origin read.
            headers[.accessControlAllowOrigin] = origin
        }
    }
}
