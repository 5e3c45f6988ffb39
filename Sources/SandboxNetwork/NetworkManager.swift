import Foundation
import Logging
import SandboxRuntime
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The sandboxes' network: links and namespaces (a pool kept ready), the packet filter's
/// per-sandbox state, the resolver's address, and the map from a sandbox's address to its policy
/// the resolver asks. The runtime sees it as `SandboxNetworking`, the resolver as `ResolverClients`.
///
/// Kernel work (netlink, sysctl, mounts, nftables) runs on threads of its own: the pool's refill
/// thread, or a `DedicatedThread` per call; the state is a Mutex never held across it.
public final class NetworkManager: SandboxNetworking, ResolverClients, Sendable {
    public let configuration: NetworkConfiguration
    let plan: AddressPlan
    let names: LinkNames
    let filter: any PacketFilter
    /// `<dataDir>/run/netns`: one bind-mounted namespace file per slot, named by the slot.
    let namespaceDirectory: String
    let logger: Logger

    /// A prepared slot: its link, its namespace file, and the policy its filter state has.
    struct Slot: Sendable {
        let link: SandboxLink
        let namespacePath: String
        var policy: NetworkPolicy
    }

    private struct State {
        var nextSlot = 1
        /// The next attachment's generation (each prepared slot gets its own).
        var nextGeneration: UInt64 = 1
        var released: [Int] = []
        var ready: [Slot] = []
        var attached: [String: Slot] = [:]
        var byAddress: [[UInt8]: String] = [:]
        var refilling = false
        var removing = 0
        var stopped = false
        var resolverInterface: String?
        /// Interfaces whose forwarding this host switched on (switched off again at stop).
        var enabledUplinks: [String] = []
        var resolver: DNSResolver?
    }

    private let state = Mutex(State())
    /// The resolver's learning (`allow`): one thread, jobs one at a time, at most 256 waiting.
    let learner = SerialWorker(name: "network learn")
    /// The deep health check's network probe, single-flight, cached 10 s.
    public let probe: NetworkProbeCache
    private let wake = DispatchSemaphore(value: 0)
    private let refillEnded = DispatchSemaphore(value: 0)

    init(configuration: NetworkConfiguration, dataDir: String, filter: any PacketFilter, logger: Logger) throws {
        guard let plan = AddressPlan(range: configuration.range) else {
            throw NetworkError("the sandbox network range \(configuration.range) must be an IPv4 block of /29 or wider")
        }
        self.configuration = configuration
        self.plan = plan
        self.names = LinkNames(instanceKey: configuration.instanceKey)
        self.filter = filter
        // Absolute: sandbox-init opens these files, whatever the host's working directory.
        self.namespaceDirectory = URL(fileURLWithPath: dataDir).standardizedFileURL.path + "/run/netns"
        self.probe = NetworkProbeCache(range: configuration.range, instanceKey: configuration.instanceKey)
        self.logger = logger
    }

    /// Sweeps what a crashed run of this host left, checks that the kernel can do what sandboxes
    /// need (nftables, writable network settings, a range no host route uses), installs the base
    /// rules and the resolver's address, and starts filling the pool. Blocking (tens of ms):
    /// call it at host start, off the cooperative pool. Throws, with the reason, when networking
    /// cannot work here; nothing of it is then left behind.
    public func start() throws {
        try FileManager.default.createDirectory(atPath: namespaceDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let swept = KernelLinks.sweep(names: names, namespaceDirectory: namespaceDirectory, resolver: plan.resolver)
        // The runtime's per-sandbox resolv.conf files (`<dataDir>/run/resolv`) of sandboxes a
        // crash ended: host-written, in a host-owned directory.
        let resolvDirectory = (namespaceDirectory as NSString).deletingLastPathComponent + "/resolv"
        for file in (try? FileManager.default.contentsOfDirectory(atPath: resolvDirectory)) ?? [] {
            unlink(resolvDirectory + "/" + file)
        }
        try? filter.removeAll()
        if swept > 0 { logger.info("removed network leftovers of an earlier run", metadata: ["count": "\(swept)"]) }
        if let route = KernelLinks.overlappingRoute(configuration.range, names: names) {
            throw NetworkError("the sandbox network range \(configuration.range) overlaps the host's route \(route); set SANDBOX_HOST_NETWORK_RANGE to an unused private block")
        }
        guard KernelLinks.sysctlWritable() else {
            throw NetworkError("the kernel's network settings (/proc/sys/net) are read-only here: forwarding cannot be enabled")
        }
        do {
            try filter.installBase(configuration)
        } catch {
            try? filter.removeAll()
            throw NetworkError("nftables is not usable: \(error)")
        }
        do {
            let interface = try KernelLinks.addResolverAddress(plan.resolver, interface: names.resolverInterface)
            state.withLock { $0.resolverInterface = interface }
        } catch {
            try? filter.removeAll()
            throw error
        }
        enableUplinkForwarding()
        // The sandboxes' resolver, on the resolver's address, port 53, UDP and TCP.
        let resolver = DNSResolver(clients: self, upstreams: configuration.upstream, logger: logger)
        do {
            try resolver.startBlocking(address: plan.resolver)
        } catch {
            KernelLinks.removeResolverAddress(plan.resolver, interface: names.resolverInterface)
            try? filter.removeAll()
            throw NetworkError("the sandboxes' resolver cannot listen on \(resolverAddress) port 53: \(error)")
        }
        state.withLock { $0.resolver = resolver }
        state.withLock { $0.refilling = true }
        let thread = Thread { [self] in refillLoop() }
        thread.name = "network pool"
        thread.start()
    }

    /// Everything of this host's network goes: the pool, every link and namespace, the resolver's
    /// address, the filter's table. Blocking; at shutdown, after the sandboxes stopped.
    public func stop() {
        let refilling = state.withLock { state -> Bool in
            state.stopped = true
            return state.refilling
        }
        wake.signal()
        learner.stop()
        if refilling { refillEnded.wait() }
        state.withLock { state in
            defer { state.resolver = nil }
            return state.resolver
        }?.stopBlocking()
        let (slots, interface) = state.withLock { state in
            let slots = state.ready + Array(state.attached.values)
            state.ready = []
            state.attached = [:]
            state.byAddress = [:]
            return (slots, state.resolverInterface)
        }
        for slot in slots {
            try? filter.remove(slot.link)
            KernelLinks.remove(slot.link, namespacePath: slot.namespacePath)
        }
        if interface != nil { KernelLinks.removeResolverAddress(plan.resolver, interface: names.resolverInterface) }
        let uplinks = state.withLock { state in
            defer { state.enabledUplinks = [] }
            return state.enabledUplinks
        }
        // Another host on this machine may have found forwarding on (switched by this one) and
        // needs it for its sandboxes' replies: then it stays on.
        if !uplinks.isEmpty {
            if KernelLinks.otherInstanceRunning(names: names) {
                logger.info("forwarding left on for another sandbox host", metadata: ["interfaces": "\(uplinks)"])
            } else {
                KernelLinks.restoreForwarding(uplinks)
            }
        }
        _ = KernelLinks.sweep(names: names, namespaceDirectory: namespaceDirectory, resolver: plan.resolver)
        try? filter.removeAll()
    }

    /// Closes the resolver's sockets and nothing else, as a killed process's close (tests of
    /// what a crash leaves behind).
    func closeResolverSockets() {
        state.withLock { state in
            defer { state.resolver = nil }
            return state.resolver
        }?.stopBlocking()
    }

    /// The resolver's address (where its sockets bind), as text.
    public var resolverAddress: String { AddressPlan.text(plan.resolver) }

    /// Slots ready in the pool now (tests, health).
    public var readyCount: Int { state.withLock { $0.ready.count } }

    // MARK: - SandboxNetworking

    public func attach(sandboxID: String, policy: NetworkPolicy) async throws -> NetworkAttachment? {
        // A sandbox attached twice (a start after a stop whose detach has not run): the old link goes.
        if state.withLock({ $0.attached[sandboxID] != nil }) { await detach(sandboxID: sandboxID) }
        let taken = state.withLock { state -> (slot: Slot?, number: Int?) in
            guard !state.stopped else { return (nil, nil) }
            if !state.ready.isEmpty { return (state.ready.removeFirst(), nil) }
            return (nil, Self.takeNumber(&state, limit: plan.slotCount))
        }
        wake.signal()
        var slot: Slot
        if let ready = taken.slot {
            slot = ready
        } else if let number = taken.number {
            // The pool is empty: made on the spot, on a thread of its own.
            slot = try await DedicatedThread.run("network slot") { [self] in
                do {
                    return try prepare(slot: number)
                } catch {
                    release(number)
                    throw error
                }
            }
        } else if state.withLock({ $0.stopped }) {
            throw NetworkError("the sandbox network is stopped")
        } else {
            throw NetworkError("every address of the sandbox network range \(configuration.range) is in use")
        }
        if slot.policy != policy {
            let link = slot.link
            let filter = self.filter
            do {
                try await DedicatedThread.run("network policy") { try filter.updateUnused(link, policy: policy) }
            } catch {
                discardInBackground(slot)
                throw error
            }
            slot.policy = policy
        }
        state.withLock { state in
            state.attached[sandboxID] = slot
            state.byAddress[slot.link.address] = sandboxID
        }
        return NetworkAttachment(
            namespacePath: slot.namespacePath, address: AddressPlan.text(slot.link.address), gateway: AddressPlan.text(slot.link.gateway),
            nameserver: policy.mode == .none ? nil : resolverAddress)
    }

    public func apply(sandboxID: String, policy: NetworkPolicy) async throws {
        guard let link = state.withLock({ $0.attached[sandboxID]?.link }) else { return }
        let filter = self.filter
        try await DedicatedThread.run("network policy") { try filter.update(link, policy: policy) }
        state.withLock { state in
            if state.attached[sandboxID]?.link == link { state.attached[sandboxID]?.policy = policy }
        }
    }

    public func detach(sandboxID: String) async {
        let slot = state.withLock { state -> Slot? in
            guard let slot = state.attached.removeValue(forKey: sandboxID) else { return nil }
            state.byAddress[slot.link.address] = nil
            state.removing += 1
            return slot
        }
        guard let slot else { return }
        // The filter's state goes before this returns; the link and the namespace after, on a
        // thread of their own: deleting a veth waits for the kernel's RCU grace periods (30-40 ms
        // measured), which a stop need not wait for. The slot's number is free once they are gone.
        let filter = self.filter
        do {
            try await DedicatedThread.run("network detach") { try filter.remove(slot.link) }
        } catch {
            logger.error("a sandbox's rules could not be removed", metadata: ["sandbox": "\(sandboxID)", "error": "\(error)"])
        }
        Task.detached { [self] in
            do {
                try await DedicatedThread.run("network link removal") { [self] in
                    try KernelLinks.removeChecked(slot.link, namespacePath: slot.namespacePath)
                    release(slot.link.slot)
                }
            } catch {
                logger.error("a sandbox's link could not be removed; swept at the next start", metadata: ["sandbox": "\(sandboxID)", "error": "\(error)"])
            }
            state.withLock { $0.removing -= 1 }
        }
    }

    public func hostInterface(sandboxID: String) -> String? {
        state.withLock { $0.attached[sandboxID]?.link.hostInterface }
    }

    /// Links of stopped sandboxes still being removed (tests).
    var removing: Int { state.withLock { $0.removing } }

    // MARK: - ResolverClients

    func client(at source: [UInt8]) -> (sandboxID: String, policy: NetworkPolicy)? {
        state.withLock { state in
            guard let id = state.byAddress[source], let slot = state.attached[id] else { return nil }
            return (id, slot.policy)
        }
    }

    func allow(sandboxID: String, name: DNSName, addresses: [AddressBlock], ttlSeconds: Int) async throws {
        guard let link = state.withLock({ $0.attached[sandboxID]?.link }) else { return }
        let filter = self.filter
        // On the learner's one thread, not a `DedicatedThread` per answer: a flood of answers
        // cannot take the threads sandbox starts and stops need; past its backlog, refused
        // (the sandbox gets SERVFAIL).
        try await learner.run { try filter.allow(link, name: name, addresses: addresses, ttlSeconds: ttlSeconds) }
    }

    /// The sandbox attached at `slot`'s address, if any (tests).
    func attachedLink(_ sandboxID: String) -> SandboxLink? {
        state.withLock { $0.attached[sandboxID]?.link }
    }

    // MARK: - Slots

    private static func takeNumber(_ state: inout State, limit: Int) -> Int? {
        if let number = state.released.popLast() { return number }
        guard state.nextSlot <= limit else { return nil }
        defer { state.nextSlot += 1 }
        return state.nextSlot
    }

    private func release(_ number: Int) {
        state.withLock { $0.released.append(number) }
        wake.signal()
    }

    func link(slot: Int) -> SandboxLink {
        SandboxLink(slot: slot, hostInterface: names.hostInterface(slot: slot), address: plan.address(slot: slot), gateway: plan.gateway(slot: slot))
    }

    /// A ready slot: namespace, link, addresses, routes, forwarding, the default policy's rules.
    /// Blocking.
    func prepare(slot number: Int) throws -> Slot {
        var link = link(slot: number)
        // A new attachment of the slot: the filter ignores calls for an earlier one.
        link.generation = state.withLock { state in
            defer { state.nextGeneration += 1 }
            return state.nextGeneration
        }
        let path = namespaceDirectory + "/" + String(number)
        try KernelLinks.create(link, namespacePath: path)
        do {
            try filter.add(link, policy: configuration.defaultPolicy)
        } catch {
            try? filter.remove(link)
            KernelLinks.remove(link, namespacePath: path)
            throw error
        }
        return Slot(link: link, namespacePath: path, policy: configuration.defaultPolicy)
    }

    /// A slot's filter state, link and namespace go, and its number is free again. Blocking.
    /// When the link or namespace cannot be removed the number stays taken (reusing it would
    /// collide); the next start sweeps it.
    func discard(_ slot: Slot) throws {
        var failure: (any Error)?
        do { try filter.remove(slot.link) } catch { failure = error }
        do {
            try KernelLinks.removeChecked(slot.link, namespacePath: slot.namespacePath)
            release(slot.link.slot)
        } catch {
            failure = error
        }
        if let failure { throw failure }
    }

    private func discardInBackground(_ slot: Slot) {
        let thread = Thread { [self] in
            do { try discard(slot) } catch { logger.error("a network slot could not be removed", metadata: ["error": "\(error)"]) }
        }
        thread.start()
    }

    /// Forwarding on the uplinks that have it off (remembered, switched off again at stop), and
    /// the filter told to forward what comes in on them toward sandbox links only. Blocking.
    private func enableUplinkForwarding() {
        let enabled = KernelLinks.enableUplinkForwarding(names: names)
        guard !enabled.isEmpty else { return }
        state.withLock { $0.enabledUplinks += enabled }
        logger.info("forwarding enabled on the uplinks", metadata: ["interfaces": "\(enabled)"])
        do {
            try filter.forwardingEnabled(on: enabled)
        } catch {
            logger.error("the uplinks' forwarding could not be limited to the sandboxes", metadata: ["error": "\(error)"])
        }
    }

    /// The pool's thread: keeps `poolSize` slots ready; sleeps until an attach takes one or a
    /// detach frees a number. A failure is logged and retried after a pause, never in a spin.
    private func refillLoop() {
        defer {
            state.withLock { $0.refilling = false }
            refillEnded.signal()
        }
        while true {
            let number = state.withLock { state -> Int?? in
                if state.stopped { return .none }
                guard state.ready.count < configuration.poolSize else { return .some(nil) }
                return .some(Self.takeNumber(&state, limit: plan.slotCount))
            }
            guard let number else { return }
            guard let number else {
                wake.wait()
                continue
            }
            // An uplink that appeared since (a route added after the host started) forwards
            // before the next sandbox uses this slot: /proc/net/route and a few sysctls, ~0.1 ms.
            enableUplinkForwarding()
            do {
                let slot = try prepare(slot: number)
                let kept = state.withLock { state -> Bool in
                    guard !state.stopped else { return false }
                    state.ready.append(slot)
                    return true
                }
                if !kept { try? discard(slot) }
            } catch {
                state.withLock { $0.released.append(number) }
                logger.error("a network slot could not be prepared", metadata: ["slot": "\(number)", "error": "\(error)"])
                Thread.sleep(forTimeInterval: 1)
            }
        }
    }
}
