import HTTPTypes
import SandboxRuntime

/// Who may open a preview: the holder of the sandbox's preview token (in the URL once, then in
/// its cookie) or of an API key of the sandbox's owner. Anyone else gets what a missing sandbox
/// gets: 404.
struct PreviewAccess: Sendable {
    let sandboxes: any PreviewTokenIssuing
    /// An owner's key opens the preview too.
    let authenticator: any KeyAuthenticating

    enum Grant: Sendable {
        /// The token came in the URL: keep it in a cookie and redirect without it.
        case tokenInURL(token: String)
        /// The preview's cookie, or the owner's API key.
        case allowed
    }

    struct Decision: Sendable {
        let record: SandboxRecord
        let grant: Grant
        /// The request's `Authorization` carries one of our API keys: it must not go upstream.
        let dropAuthorization: Bool
    }

    /// The sandbox and how access was granted; `HostError.notFound` when it is not.
    func check(_ target: PreviewTarget, uri: String, headers: HTTPFields) async throws -> Decision {
        guard let (record, owner, stored) = try await sandboxes.withOwner(id: target.sandboxID) else { throw HostError.notFound("preview") }
        // Every preview request comes here: read the token, and make one only the first time.
        let token = if let stored { stored } else { try await sandboxes.previewToken(id: record.id) }
        let bearer = AuthMiddleware.bearer(headers)  // never `?token=`: that query may be the app's own
        let dropAuthorization = bearer.map { APIKey.parse($0) != nil } ?? false
        if let given = PreviewCookie.queryToken(uri), Self.same(given, token) {
            return Decision(record: record, grant: .tokenInURL(token: token), dropAuthorization: dropAuthorization)
        }
        if PreviewCookie.tokens(in: headers[.cookie], sandboxID: record.id).contains(where: { Self.same($0, token) }) {
            return Decision(record: record, grant: .allowed, dropAuthorization: dropAuthorization)
        }
        if let bearer, let identity = try await authenticator.authenticate(bearer), identity.userID == owner {
            return Decision(record: record, grant: .allowed, dropAuthorization: true)
        }
        throw HostError.notFound("preview")
    }

    static func same(_ lhs: String, _ rhs: String) -> Bool {
        APIKey.constantTimeEqual(Array(lhs.utf8), Array(rhs.utf8))
    }
}
