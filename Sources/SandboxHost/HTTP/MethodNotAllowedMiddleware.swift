import HTTPTypes
import Hummingbird

/// A known path asked with a method it does not answer gets 405 with `Allow` (and the
/// contract's error body), not the router's 404. Only requests no route took reach the check
/// (`context.endpointPath` is nil then): a matched route costs nothing here.
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let routes: RouteMethods

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard context.endpointPath == nil else { return try await next(request, context) }
        let allowed = routes.allowed(path: request.uri.path)
        guard !allowed.isEmpty, !allowed.contains(request.method) else { return try await next(request, context) }
        let names = allowed.map(\.rawValue).joined(separator: ", ")
        throw HTTPError(.methodNotAllowed, headers: [.allow: names], message: "\(request.method.rawValue) is not allowed on this path; it answers \(names)")
    }
}
