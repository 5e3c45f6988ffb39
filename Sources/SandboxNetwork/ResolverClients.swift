import SandboxRuntime

/// What the DNS resolver needs to know of the sandboxes asking it (the `NetworkManager`).
protocol ResolverClients: Sendable {
    /// The sandbox whose address is `source` (4 bytes) and its policy now; nil: not one of this
    /// host's sandboxes, and the query is dropped.
    func client(at source: [UInt8]) -> (sandboxID: String, policy: NetworkPolicy)?
    /// An allowed name's answer (`allowlist` mode): its addresses become reachable from that
    /// sandbox for `ttlSeconds`, before the answer is sent.
    func allow(sandboxID: String, name: DNSName, addresses: [AddressBlock], ttlSeconds: Int) async throws
}
