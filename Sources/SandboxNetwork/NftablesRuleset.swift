import SandboxRuntime

/// The nftables text of this host's sandbox filter: pure (no kernel), so the rules read top to
/// bottom here and are unit-tested as text. `NftablesFilter` runs each batch as one transaction.
///
/// One table per host instance, `inet sandbox_host_<key>`:
/// - `forward` sends packets from a sandbox link to `from_sandbox`, which drops, in this order,
///   IPv6 (sandboxes have IPv4 only), a source that is not that link's sandbox (anti-spoofing),
///   the sandbox range (other sandboxes, the resolver), the host's own addresses, then — unless
///   the operator's `allowPrivate` covers the destination — every always-denied block; only then
///   does it go (verdict map keyed by `iifname`) to the sandbox's own chain, which can therefore
///   never open what the base chain refuses. Packets toward a sandbox pass only as replies of an
///   established flow, and only if the sandbox's policy still allows their source: policy is
///   checked on every packet both ways, so a new policy cuts flows already established.
/// - A link named like this host's sandbox links but not registered (a pool slot before `add`,
///   a link after `remove`) passes nothing.
/// - Interfaces whose forwarding this host switched on (`enabled_uplinks`) forward only toward
///   a sandbox link: the host does not become a router between its other networks.
/// - `input`: from sandbox links only the resolver's port 53 (udp and tcp), and not in `none`;
///   the range's addresses on the host (resolver, gateways) answer nothing from other interfaces
///   but `lo`. `from_sandbox` drops conntrack-invalid packets first. `168.63.129.16` (Azure's
///   WireServer) is always denied.
/// - `output`: the host opens nothing into a sandbox (no TCP SYN, no new UDP flow).
/// - `postrouting`: the range is masqueraded toward every interface that is not a sandbox's.
/// Per sandbox (slot n): chains `sb<n>_out` (its packets) and `sb<n>_in` (replies to it), an
/// interval set `sb<n>_blocks` (`deny_out` blocks in `open`, `allow_out` blocks in `allowlist`),
/// a timeout set `sb<n>_learned` (addresses a DNS answer allowed, `allowlist`), a new-connection
/// rate limit. Domain names are the resolver's business; IPv6 entries are moot (no IPv6).
struct NftablesRuleset: Sendable {
    let configuration: NetworkConfiguration

    /// Addresses no policy opens (API.md, "Network"), besides the range and the host's own.
    static let alwaysDenied = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "168.63.129.16/32", "169.254.0.0/16",
        "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4",
    ]
    /// Elements a DNS-learned set holds at most (an answer adds a few; entries expire).
    static let learnedCapacity = 4096

    var table: String { "sandbox_host_" + Self.sanitized(configuration.instanceKey) }

    /// What this instance's sandbox link names start with (`sb` and the key's first 6 hex digits,
    /// as the links are named): a link of this host that is not (or no longer) registered passes
    /// nothing at all.
    var linkPrefix: String { "sb" + String(configuration.instanceKey.lowercased().filter(\.isHexDigit).prefix(6)) }

    /// The resolver's address: the first host address of the range.
    var resolverAddress: String {
        var bytes = configuration.range.bytes
        bytes[3] &+= 1
        return bytes.map(String.init).joined(separator: ".")
    }

    /// The whole base table, replacing whatever an earlier run of this instance left.
    func base() -> String {
        let range = configuration.range.description
        let allowPrivate = configuration.allowPrivate.filter(\.isIPv4).map(\.description)
        let allowPrivateElements = allowPrivate.isEmpty ? "" : " elements = { \(allowPrivate.joined(separator: ", ")) };"
        return """
        add table inet \(table)
        delete table inet \(table)
        table inet \(table) {
          set links { type ifname; }
          set dns_links { type ifname; }
          set enabled_uplinks { type ifname; }
          set link_sources { type ifname . ipv4_addr; }
          set denied { type ipv4_addr; flags interval; auto-merge; elements = { \(Self.alwaysDenied.joined(separator: ", ")) }; }
          set private_allowed { type ipv4_addr; flags interval; auto-merge;\(allowPrivateElements) }
          map links_out { type ifname : verdict; }
          map links_in { type ifname : verdict; }
          chain forward {
            type filter hook forward priority filter; policy accept;
            iifname @links goto from_sandbox
            iifname "\(linkPrefix)*" drop
            oifname @links goto to_sandbox
            oifname "\(linkPrefix)*" drop
            iifname @enabled_uplinks oifname != "\(linkPrefix)*" drop
          }
          chain from_sandbox {
            ct state invalid drop
            meta nfproto != ipv4 drop
            iifname . ip saddr != @link_sources drop
            ip daddr \(range) drop
            fib daddr type local drop
            ip daddr 255.255.255.255 drop
            ip daddr @private_allowed iifname vmap @links_out
            ip daddr @denied drop
            iifname vmap @links_out
            drop
          }
          chain to_sandbox {
            ct state established oifname vmap @links_in
            ct state related meta l4proto icmp oifname vmap @links_in
            drop
          }
          chain refuse {
            meta l4proto tcp reject with tcp reset
            reject with icmpx type admin-prohibited
          }
          chain input {
            type filter hook input priority filter; policy accept;
            iifname @links goto sandbox_to_host
            iifname "\(linkPrefix)*" drop
            ip daddr \(range) iifname != "lo" drop
          }
          chain sandbox_to_host {
            meta nfproto != ipv4 drop
            iifname . ip saddr != @link_sources drop
            iifname @dns_links ip daddr \(resolverAddress) udp dport 53 accept
            iifname @dns_links ip daddr \(resolverAddress) tcp dport 53 accept
            drop
          }
          chain output {
            type filter hook output priority filter; policy accept;
            oifname @links tcp flags & (syn | ack) == syn drop
            oifname @links meta l4proto udp ct state new drop
          }
          chain postrouting {
            type nat hook postrouting priority srcnat; policy accept;
            ip saddr \(range) oifname != @links masquerade
          }
        }

        """
    }

    /// The sandbox's chains and sets with `policy` in force, and its link in the base maps.
    /// Idempotent: a slot left over by a crash is overwritten.
    func add(_ link: SandboxLink, policy: NetworkPolicy) -> String {
        declarations(link) + rules(link, policy: policy, flushLearned: true) + membership(link, policy: policy)
    }

    /// Replaces the sandbox's rules (one transaction: no packet sees a half-made chain).
    /// `flushLearned`: DNS-learned addresses go too (names may have left the policy).
    func update(_ link: SandboxLink, policy: NetworkPolicy, flushLearned: Bool) -> String {
        declarations(link) + rules(link, policy: policy, flushLearned: flushLearned) + membership(link, policy: policy)
    }

    /// Addresses reachable from the sandbox for `ttlSeconds` (IPv4 only; others are moot).
    /// `adding`: not in the set (a plain add, cheap). `refreshing`: in the set with an earlier
    /// expiry; an add does not move an element's timeout, so each is added, deleted and added
    /// again (no error whether or not it is there), which costs more (nft reads the set first).
    func allow(_ link: SandboxLink, adding: [AddressBlock], refreshing: [AddressBlock], ttlSeconds: Int) -> String {
        let set = "inet \(table) \(names(link).learned)"
        let ttl = max(1, ttlSeconds)
        var text = ""
        for address in adding where address.isIPv4 {
            text += "add element \(set) { \(address) timeout \(ttl)s }\n"
        }
        for address in refreshing where address.isIPv4 {
            text += "add element \(set) { \(address) }\n"
            text += "delete element \(set) { \(address) }\n"
            text += "add element \(set) { \(address) timeout \(ttl)s }\n"
        }
        return text
    }

    /// The sandbox's chains, sets and map entries go; nothing missing makes it fail (each is
    /// added first, so the transaction's deletes always find it).
    func remove(_ link: SandboxLink) -> String {
        let name = names(link)
        let entries = membershipEntries(link)
        return declarations(link)
            + entries.map { "add element inet \(table) \($0.set) { \($0.element) }\n" }.joined()
            + entries.map { "delete element inet \(table) \($0.set) { \($0.key) }\n" }.joined()
            + """
            flush chain inet \(table) \(name.outbound)
            flush chain inet \(table) \(name.inbound)
            delete chain inet \(table) \(name.outbound)
            delete chain inet \(table) \(name.inbound)
            delete set inet \(table) \(name.blocks)
            delete set inet \(table) \(name.learned)
            delete set inet \(table) \(name.flows)

            """
    }

    /// Interfaces whose forwarding this host switched on (see `base`'s forward chain).
    func enabledUplinks(_ interfaces: [String]) -> String {
        let names = interfaces.filter { !$0.isEmpty && $0.utf8.count <= 15 && !$0.contains("\"") }
        guard !names.isEmpty else { return "" }
        return "add element inet \(table) enabled_uplinks { \(names.map { "\"\($0)\"" }.joined(separator: ", ")) }\n"
    }

    /// The whole table goes (present or not).
    func removeAll() -> String {
        "add table inet \(table)\ndelete table inet \(table)\n"
    }

    // MARK: - Pieces

    struct Names {
        let outbound, inbound, blocks, learned, flows: String
    }

    func names(_ link: SandboxLink) -> Names {
        Names(outbound: "sb\(link.slot)_out", inbound: "sb\(link.slot)_in",
              blocks: "sb\(link.slot)_blocks", learned: "sb\(link.slot)_learned", flows: "sb\(link.slot)_flows")
    }

    private func declarations(_ link: SandboxLink) -> String {
        let name = names(link)
        return """
        add chain inet \(table) \(name.outbound)
        add chain inet \(table) \(name.inbound)
        add set inet \(table) \(name.blocks) { type ipv4_addr; flags interval; auto-merge; }
        add set inet \(table) \(name.learned) { type ipv4_addr; flags timeout; size \(Self.learnedCapacity); }
        add set inet \(table) \(name.flows) { type ipv4_addr; flags dynamic; size 16; }

        """
    }

    private func rules(_ link: SandboxLink, policy: NetworkPolicy, flushLearned: Bool) -> String {
        let name = names(link)
        let outbound = "add rule inet \(table) \(name.outbound)"
        let inbound = "add rule inet \(table) \(name.inbound)"
        let listed = Self.blocks(of: policy)
        var text = """
        flush chain inet \(table) \(name.outbound)
        flush chain inet \(table) \(name.inbound)
        flush set inet \(table) \(name.blocks)

        """
        if flushLearned || policy.mode != .allowlist { text += "flush set inet \(table) \(name.learned)\n" }
        if !listed.isEmpty {
            text += "add element inet \(table) \(name.blocks) { \(listed.map(\.description).joined(separator: ", ")) }\n"
        }
        let rate = max(1, configuration.newConnectionsPerSecond)
        text += "\(outbound) ct state new limit rate over \(rate)/second burst \(rate * 2) packets drop\n"
        // No sandbox fills the host's conntrack table: its flows still tracked (not closed) are
        // counted, and a new one beyond the cap is refused. The count lives in a set of its own
        // (keyed by the source, which anti-spoofing pins to the sandbox's address), so an update,
        // which rewrites the rules, does not reset it.
        text += "\(outbound) ct state new add @\(name.flows) { ip saddr ct count over \(max(1, configuration.maxFlowsPerSandbox)) } goto refuse\n"
        // Flows belong to the attachment that started them: a reused slot's new sandbox gets
        // none of its predecessor's, whether or not their conntrack cut ran.
        let mark = Self.mark(link)
        text += "\(outbound) ct state new ct mark set \(mark)\n"
        text += "\(outbound) ct mark != \(mark) goto refuse\n"
        text += "\(inbound) ct mark != \(mark) drop\n"
        switch policy.mode {
        case .none:
            text += "\(inbound) drop\n"
        case .open:
            text += "\(outbound) ip daddr @\(name.blocks) goto refuse\n"
            text += "\(outbound) accept\n"
            text += "\(inbound) ip saddr @\(name.blocks) drop\n"
            text += "\(inbound) accept\n"
        case .allowlist:
            text += "\(outbound) ip daddr @\(name.blocks) accept\n"
            text += "\(outbound) ip daddr @\(name.learned) accept\n"
            text += "\(inbound) ip saddr @\(name.blocks) accept\n"
            text += "\(inbound) ip saddr @\(name.learned) accept\n"
            text += "\(inbound) drop\n"
        }
        // What the policy refuses is refused loudly (a reset at once, not a timeout).
        text += "\(outbound) goto refuse\n"
        return text
    }

    /// The link in the base sets and maps; in `dns_links` only when it has a resolver.
    private func membership(_ link: SandboxLink, policy: NetworkPolicy) -> String {
        var text = ""
        for entry in membershipEntries(link) {
            text += "add element inet \(table) \(entry.set) { \(entry.element) }\n"
            if entry.set == "dns_links" && policy.mode == .none {
                text += "delete element inet \(table) \(entry.set) { \(entry.key) }\n"
            }
        }
        return text
    }

    /// One element of a base set or map naming this link: `key` alone deletes it.
    struct Entry {
        let set: String
        let key: String
        let value: String?
        var element: String { value.map { "\(key) : \($0)" } ?? key }
    }

    private func membershipEntries(_ link: SandboxLink) -> [Entry] {
        let name = names(link)
        let interface = "\"\(link.hostInterface)\""
        let address = link.address.map(String.init).joined(separator: ".")
        return [
            Entry(set: "links", key: interface, value: nil),
            Entry(set: "link_sources", key: "\(interface) . \(address)", value: nil),
            Entry(set: "links_out", key: interface, value: "goto \(name.outbound)"),
            Entry(set: "links_in", key: interface, value: "goto \(name.inbound)"),
            Entry(set: "dns_links", key: interface, value: nil),
        ]
    }

    /// The conntrack mark of an attachment's flows: its generation, 1...2^32-1 (never 0, the
    /// mark of a flow nobody marked).
    static func mark(_ link: SandboxLink) -> UInt32 {
        UInt32(link.generation % 0xFFFF_FFFF) + 1
    }

    /// The policy's listed IPv4 blocks: `deny_out` in `open`, `allow_out` in `allowlist`.
    static func blocks(of policy: NetworkPolicy) -> [AddressBlock] {
        let listed: [NetworkDestination]
        switch policy.mode {
        case .none: listed = []
        case .open: listed = policy.denyOut
        case .allowlist: listed = policy.allowOut
        }
        return listed.compactMap { destination in
            if case .block(let block) = destination, block.isIPv4 { return block }
            return nil
        }
    }

    private static func sanitized(_ key: String) -> String {
        String(key.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" }.prefix(32))
    }
}
