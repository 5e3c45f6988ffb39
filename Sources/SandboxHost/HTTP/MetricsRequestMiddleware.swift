import Hummingbird
import SandboxRuntime

/// Counts every request and times it to its response head (`HostMetrics.recordRequest`), by the
/// route pattern the router matched (`context.endpointPath`: `/api/sandboxes/{sandbox_id}/execute`,
/// never the raw path, so the label set stays bounded), the method and the status class. A path
/// no route knows — the catch-all routes (`/**`: 404s, previews, sites on an apps host) or none
/// at all — is `unmatched`.
///
/// Outermost in `HostRouter`: it sees the status the client gets, after `ErrorMiddleware` made
/// an error a response. A stream's duration is to its head, not its end.
struct MetricsRequestMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let metrics: HostMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = MonotonicClock.seconds()
        let status: Int
        do {
            let response = try await next(request, context)
            status = response.status.code
            metrics.recordRequest(route: Self.route(context.endpointPath), method: request.method, status: status, seconds: MonotonicClock.seconds() - start)
            return response
        } catch {
            let code = (error as? any HTTPResponseError)?.status.code ?? 500
            metrics.recordRequest(route: Self.route(context.endpointPath), method: request.method, status: code, seconds: MonotonicClock.seconds() - start)
            throw error
        }
    }

    /// The route label of a matched pattern.
    static func route(_ endpointPath: String?) -> String {
        guard let endpointPath, endpointPath != "NotFound", endpointPath != "/**" else { return "unmatched" }
        return endpointPath
    }
}
