import SandboxRuntime

/// How the host's sandboxes reach the network (built by the host from its configuration).
public struct NetworkConfiguration: Sendable {
    /// The private block sandbox links take their addresses from (`SANDBOX_HOST_NETWORK_RANGE`).
    /// The first address is the resolver's; the rest is cut into one small block per sandbox.
    public var range: AddressBlock
    /// The policy of a sandbox whose project set none (`SANDBOX_HOST_NETWORK_DEFAULT`).
    public var defaultPolicy: NetworkPolicy = .open
    /// Private blocks the operator opens to every sandbox (`SANDBOX_HOST_NETWORK_ALLOW_PRIVATE`).
    public var allowPrivate: [AddressBlock] = []
    /// Where the resolver forwards (`SANDBOX_HOST_DNS_UPSTREAM`); empty: the host's own
    /// resolvers, from /etc/resolv.conf.
    public var upstream: [DNSUpstream] = []
    /// New connections a sandbox may open per second (a burst of twice that), beyond which they drop.
    public var newConnectionsPerSecond = 100
    /// Flows a sandbox may have tracked at once (conntrack entries it started and not yet
    /// closed); a new one beyond it is refused, so no sandbox fills the host's conntrack table.
    public var maxFlowsPerSandbox = 4096
    /// Names this host's kernel objects (tables, links, namespaces): the runtime's instance key,
    /// so two hosts on one machine never touch each other's.
    public var instanceKey: String
    /// Network namespaces kept ready (link, addresses, routes, default policy in force), so a
    /// sandbox's start takes one instead of making it.
    public var poolSize = 4

    public init(range: AddressBlock, instanceKey: String) {
        self.range = range
        self.instanceKey = instanceKey
    }
}
