import Synchronization
@testable import SandboxNetwork
@testable import SandboxRuntime

/// A packet filter that installs nothing (tests of links and the pool, before and beside the
/// nftables one): it only counts what it was asked.
final class NullPacketFilter: PacketFilter {
    struct Calls: Sendable {
        var installBase = 0, add = 0, update = 0, allow = 0, remove = 0, removeAll = 0
    }

    let calls = Mutex(Calls())

    func installBase(_ configuration: NetworkConfiguration) throws { calls.withLock { $0.installBase += 1 } }
    func add(_ link: SandboxLink, policy: NetworkPolicy) throws { calls.withLock { $0.add += 1 } }
    func update(_ link: SandboxLink, policy: NetworkPolicy) throws { calls.withLock { $0.update += 1 } }
    func allow(_ link: SandboxLink, name: DNSName, addresses: [AddressBlock], ttlSeconds: Int) throws { calls.withLock { $0.allow += 1 } }
    func remove(_ link: SandboxLink) throws { calls.withLock { $0.remove += 1 } }
    func removeAll() throws { calls.withLock { $0.removeAll += 1 } }
}
