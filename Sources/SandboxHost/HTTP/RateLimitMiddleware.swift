import HTTPTypes
import Hummingbird

/// Answers 429 with `Retry-After` when a key spends its token bucket.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let limiter: RateLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let identity = context.identity, let wait = limiter.acquire(identity.keyID) {
            throw HostError(
                .rateLimited, "rate limit of \(Int(limiter.ratePerSecond)) requests per second exceeded; retry in \(wait) s",
                retryAfterSeconds: wait)
        }
        return try await next(request, context)
    }
}
