/// What the runtime asks of the sandboxes' network around each sandbox's life. The host composes
/// an implementation (the `SandboxNetwork` module: veth links, nftables, the DNS resolver); a
/// runtime without one gives sandboxes their own loopback only, as before.
public protocol SandboxNetworking: Sendable {
    /// Before the sandbox starts: a network namespace ready for it, its `policy` already in force
    /// in the kernel. Nil: no network for it (loopback only, a namespace of its own).
    func attach(sandboxID: String, policy: NetworkPolicy) async throws -> NetworkAttachment?
    /// A running sandbox's policy changed: new connections follow it at once, and established
    /// flows to destinations it no longer allows are cut.
    func apply(sandboxID: String, policy: NetworkPolicy) async throws
    /// The sandbox stopped: its link, rules, sets and DNS state go. Never throws: what cannot be
    /// removed now is logged and swept at the next start.
    func detach(sandboxID: String) async
    /// The resolver's address, which a sandbox's `/etc/resolv.conf` names unless its mode is `none`.
    var resolverAddress: String { get }
    /// The host end of the attached sandbox's link (its counters mirror the sandbox's traffic:
    /// metrics); nil when it has none.
    func hostInterface(sandboxID: String) -> String?
}

extension SandboxNetworking {
    public func hostInterface(sandboxID: String) -> String? { nil }
}

/// A sandbox's place on the network, as `SandboxNetworking.attach` prepared it.
public struct NetworkAttachment: Sendable, Equatable {
    /// A bind-mounted network namespace (`nsfs`) that sandbox-init joins instead of making one.
    public var namespacePath: String
    /// The sandbox's own address, and the host end of its link (its default gateway).
    public var address: String
    public var gateway: String
    /// What the sandbox's `/etc/resolv.conf` names; nil when it gets no resolver (`none` mode).
    public var nameserver: String?

    public init(namespacePath: String, address: String, gateway: String, nameserver: String?) {
        self.namespacePath = namespacePath
        self.address = address
        self.gateway = gateway
        self.nameserver = nameserver
    }
}
