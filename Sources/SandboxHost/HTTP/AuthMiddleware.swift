import Foundation
import HTTPTypes
import Hummingbird

/// Requires a valid API key on every `/api` route but the health checks, and on `/mcp`.
///
/// The key comes from `Authorization: Bearer …`; on `GET` routes that stream Server-Sent Events
/// (paths ending in `/stream`, and the file watch) also from `?token=`, since EventSource
/// cannot set headers.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let authenticator: Authenticator

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard Self.requiresKey(path: path) else { return try await next(request, context) }
        guard let presented = Self.presentedKey(request) else {
            throw HostError(.unauthorized, "missing API key: send Authorization: Bearer <api-key>", bearerChallenge: true)
        }
        guard let identity = try await authenticator.authenticate(presented) else {
            throw HostError(.unauthorized, "invalid or revoked API key", bearerChallenge: true)
        }
        var context = context
        context.identity = identity
        context.logger[metadataKey: "user"] = "\(identity.userName)"
        return try await next(request, context)
    }

    static func requiresKey(path: String) -> Bool {
        if path == "/mcp" || path.hasPrefix("/mcp/") { return true }
        guard path == "/api" || path.hasPrefix("/api/") else { return false }
        return !(path == "/api/health" || path.hasPrefix("/api/health/"))
    }

    /// Only `GET …/stream` routes and `GET …/files/watch` (Server-Sent Events) take the key from
    /// the query string.
    static func acceptsQueryToken(_ request: Request) -> Bool {
        request.method == .get && (request.uri.path.hasSuffix("/stream") || request.uri.path.hasSuffix("/files/watch"))
    }

    static func presentedKey(_ request: Request) -> String? {
        if request.headers[.authorization] != nil { return bearer(request.headers) }
        if acceptsQueryToken(request), let token = request.queryParameters["token"], !token.isEmpty {
            return token
        }
        return nil
    }

    /// The token of `Authorization: Bearer …`, if that is the scheme.
    static func bearer(_ headers: HTTPFields) -> String? {
        guard let header = headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }
}
