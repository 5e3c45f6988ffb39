import Logging
import SandboxRuntime
import Synchronization

/// The `PacketFilter` on nftables (rules: `NftablesRuleset`; each call one libnftables
/// transaction, no fork/exec) and conntrack (`ConntrackCut`, on a policy change and a removal
/// only). Thread-safe; every call blocks for one short kernel exchange: run it off the
/// cooperative pool. The filter remembers each link's policy and the addresses DNS answers
/// opened, to know which flows a new policy cuts.
final class NftablesFilter: PacketFilter {
    private struct Slot {
        var policy: NetworkPolicy
        /// DNS-learned addresses (4 bytes) and when they expire (monotonic seconds).
        var learned: [[UInt8]: Double] = [:]
    }

    private struct State {
        var ruleset: NftablesRuleset?
        var slots: [Int: Slot] = [:]
    }

    private let nftables: Nftables
    private let conntrack: ConntrackCut
    private let namespace: Int32?
    private let logger: Logger
    private let state = Mutex(State())

    /// `namespace`: an nsfs fd whose network namespace the rules go in (tests); nil: the host's.
    init(namespace: Int32? = nil, conntrack: ConntrackCut = ConntrackCut(),
         logger: Logger = Logger(label: "sandbox-host.network.filter")) {
        self.namespace = namespace
        self.nftables = Nftables(namespace: namespace)
        self.conntrack = conntrack
        self.logger = logger
    }

    func installBase(_ configuration: NetworkConfiguration) throws {
        let ruleset = NftablesRuleset(configuration: configuration)
        try nftables.run(ruleset.base())
        state.withLock { $0 = State(ruleset: ruleset) }
    }

    func add(_ link: SandboxLink, policy: NetworkPolicy) throws {
        let ruleset = try installedRuleset()
        try nftables.run(ruleset.add(link, policy: policy))
        state.withLock { $0.slots[link.slot] = Slot(policy: policy) }
    }

    func update(_ link: SandboxLink, policy: NetworkPolicy) throws {
        let ruleset = try installedRuleset()
        let previous = state.withLock { $0.slots[link.slot] }
        // DNS-learned addresses stay only while the names that taught them are the same.
        let keepLearned = previous.map {
            $0.policy.mode == .allowlist && policy.mode == .allowlist && Self.names($0.policy) == Self.names(policy)
        } ?? false
        try nftables.run(ruleset.update(link, policy: policy, flushLearned: !keepLearned))
        let now = MonotonicClock.seconds()
        let learned = state.withLock { state -> Set<[UInt8]> in
            var slot = state.slots[link.slot] ?? Slot(policy: policy)
            slot.policy = policy
            if !keepLearned { slot.learned = [:] }
            slot.learned = slot.learned.filter { $0.value > now }
            state.slots[link.slot] = slot
            return Set(slot.learned.keys)
        }
        guard previous?.policy != policy else { return }
        cutFlows(of: link, policy: policy, learned: learned)
    }

    func allow(_ link: SandboxLink, addresses: [AddressBlock], ttlSeconds: Int) throws {
        let ruleset = try installedRuleset()
        let text = ruleset.allow(link, addresses: addresses, ttlSeconds: ttlSeconds)
        guard !text.isEmpty else { return }
        try nftables.run(text)
        let expiry = MonotonicClock.seconds() + Double(max(1, ttlSeconds))
        state.withLock { state in
            guard var slot = state.slots[link.slot] else { return }
            let now = MonotonicClock.seconds()
            slot.learned = slot.learned.filter { $0.value > now }
            for address in addresses where address.isIPv4 && slot.learned.count < NftablesRuleset.learnedCapacity {
                slot.learned[address.bytes] = expiry
            }
            state.slots[link.slot] = slot
        }
    }

    func remove(_ link: SandboxLink) throws {
        let ruleset = try installedRuleset()
        try nftables.run(ruleset.remove(link))
        state.withLock { _ = $0.slots.removeValue(forKey: link.slot) }
        do {
            try NetworkNamespaceEntry.inside(namespace) { try conntrack.cutAll(from: Self.text(link.address)) }
        } catch {
            logger.warning("sandbox flows not cut at removal", metadata: ["link": "\(link.hostInterface)", "error": "\(error)"])
        }
    }

    func removeAll() throws {
        let ruleset = try installedRuleset()
        try nftables.run(ruleset.removeAll())
        state.withLock { $0.slots = [:] }
    }

    /// The table as the kernel has it (`nft list table`), for tests and `doctor`.
    func listing() throws -> String {
        let ruleset = try installedRuleset()
        return try nftables.run("list table inet \(ruleset.table)")
    }

    // MARK: - Private

    private func installedRuleset() throws -> NftablesRuleset {
        guard let ruleset = state.withLock({ $0.ruleset }) else {
            throw SandboxNetworkError(.nftables, "the base table is not installed")
        }
        return ruleset
    }

    /// Ends the sandbox's tracked flows `policy` refuses. The rules already refuse their packets;
    /// a failure here is logged, not thrown (the new policy is in force either way).
    private func cutFlows(of link: SandboxLink, policy: NetworkPolicy, learned: Set<[UInt8]>) {
        let source = Self.text(link.address)
        let blocks = NftablesRuleset.blocks(of: policy)
        do {
            try NetworkNamespaceEntry.inside(namespace) {
                switch policy.mode {
                case .none:
                    try conntrack.cutAll(from: source)
                case .open:
                    try conntrack.cut(from: source) { destination in blocks.contains { $0.contains(destination) } }
                case .allowlist:
                    try conntrack.cut(from: source) { destination in
                        !learned.contains(destination) && !blocks.contains { $0.contains(destination) }
                    }
                }
            }
        } catch {
            logger.warning("sandbox flows not cut after a policy change", metadata: ["link": "\(link.hostInterface)", "error": "\(error)"])
        }
    }

    private static func names(_ policy: NetworkPolicy) -> Set<NetworkDestination> {
        Set(policy.allowOut.filter { if case .block = $0 { return false } else { return true } })
    }

    private static func text(_ address: [UInt8]) -> String {
        address.map(String.init).joined(separator: ".")
    }
}
