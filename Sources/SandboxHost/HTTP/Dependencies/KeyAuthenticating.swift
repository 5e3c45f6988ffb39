/// Checks a presented API key.
protocol KeyAuthenticating: Sendable {
    /// The key's user, or nil for an unknown or malformed key.
    func authenticate(_ presented: String) async throws -> Authenticator.Identity?
}

extension Authenticator: KeyAuthenticating {}
