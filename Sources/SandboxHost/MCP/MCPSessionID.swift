import MCP

/// Hands the SDK's transport the id the host chose for the session before it existed, so the
/// session is registered under it (with its owner) before its first answer goes out.
/// 128 random bits, hex: visible ASCII, as the spec requires, and unguessable.
struct MCPSessionID: SessionIDGenerator {
    let id: String

    func generateSessionID() -> String { id }
}
