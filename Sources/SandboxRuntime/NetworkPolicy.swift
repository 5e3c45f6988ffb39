/// A sandbox's outbound traffic policy (API.md, "Network"): `mode`, and the destinations allowed
/// (`allowlist` mode) or denied (`open` mode) beyond the always-denied ones, which no policy can
/// open. Parsed and validated by `NetworkPolicy.parse` (see NetworkPolicy+Parsing.swift).
public struct NetworkPolicy: Sendable, Equatable, Hashable {
    public enum Mode: String, Sendable, Equatable, Hashable, CaseIterable {
        /// Nothing but the sandbox's own loopback; no resolver.
        case none
        /// Only `allowOut` (addresses, CIDR blocks, names a DNS answer turned into addresses).
        case allowlist
        /// The public internet, minus `denyOut`.
        case open
    }

    public var mode: Mode
    public var allowOut: [NetworkDestination]
    public var denyOut: [NetworkDestination]

    public init(mode: Mode, allowOut: [NetworkDestination] = [], denyOut: [NetworkDestination] = []) {
        self.mode = mode
        self.allowOut = allowOut
        self.denyOut = denyOut
    }

    public static let open = NetworkPolicy(mode: .open)
    public static let none = NetworkPolicy(mode: .none)
}
