import SandboxRuntime

/// The preview tokens of sandboxes: made once per sandbox, checked against a preview request.
protocol PreviewTokenIssuing: Sendable {
    /// The sandbox's token, made and stored on first use.
    func previewToken(id: String) async throws -> String
    /// The sandbox, its owner and its token (nil until one was made), without an owner check:
    /// a preview request carries a token or a key, checked by the caller.
    func withOwner(id: String) async throws -> (record: SandboxRecord, userID: String, previewToken: String?)?
}

extension SandboxStore: PreviewTokenIssuing {}
