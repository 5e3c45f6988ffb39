import SandboxRuntime
import Hummingbird
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// One structured log line per request: method, path, status, duration, request id and user.
///
/// Logs the path only, never the query string (it may hold `?token=`) nor any header.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = MonotonicClock.seconds()
        let response = try await next(request, context)
        let milliseconds = (MonotonicClock.seconds() - start) * 1000
        context.logger.info(
            "request",
            metadata: [
                "method": "\(request.method.rawValue)",
                "path": "\(request.uri.path)",
                "status": "\(response.status.code)",
                "duration_ms": "\((milliseconds * 10).rounded() / 10)",
            ])
        return response
    }
}
