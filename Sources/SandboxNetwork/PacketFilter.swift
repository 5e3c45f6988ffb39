import SandboxRuntime

/// The kernel's packet filter for this host's sandboxes (nftables: `NftablesFilter`). Every call
/// is a short, bounded exchange with the kernel: callers run it off the cooperative pool.
protocol PacketFilter: Sendable {
    /// This host's table: the always-denied destinations in a chain no sandbox's rules can
    /// override, NAT toward the uplinks, the resolver's port on the host, the per-sandbox
    /// connection rate. Replaces whatever a crashed run of this host left.
    func installBase(_ configuration: NetworkConfiguration) throws
    /// A sandbox's own chain and sets, `policy` in force, for traffic from `link`.
    func add(_ link: SandboxLink, policy: NetworkPolicy) throws
    /// Replaces the sandbox's rules with `policy`'s, and cuts its established flows (conntrack
    /// entries) to destinations no longer allowed.
    func update(_ link: SandboxLink, policy: NetworkPolicy) throws
    /// `update` for a slot no sandbox has used yet (it is being attached): no flow of it can
    /// exist, so there is nothing to cut.
    func updateUnused(_ link: SandboxLink, policy: NetworkPolicy) throws
    /// The resolver answered `name` (`allowlist` mode): these addresses are reachable from `link`
    /// for `ttlSeconds`, if the policy in force NOW still allows `name` (the query was judged by
    /// the policy of its arrival, which a PUT may have narrowed since); else it throws.
    func allow(_ link: SandboxLink, name: DNSName, addresses: [AddressBlock], ttlSeconds: Int) throws
    /// The sandbox's chain, sets and conntrack entries go.
    func remove(_ link: SandboxLink) throws
    /// This host's whole table goes (shutdown).
    func removeAll() throws
    /// The host switched forwarding on for these interfaces (its uplinks) for the sandboxes'
    /// sake: what comes in on them is forwarded only toward a sandbox link, so the host does not
    /// become a router between its other networks.
    func forwardingEnabled(on interfaces: [String]) throws
}

extension PacketFilter {
    func forwardingEnabled(on interfaces: [String]) throws {}
    func updateUnused(_ link: SandboxLink, policy: NetworkPolicy) throws { try update(link, policy: policy) }
}
