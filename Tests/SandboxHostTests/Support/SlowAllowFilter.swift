import Foundation
import Synchronization
@testable import SandboxNetwork
@testable import SandboxRuntime

/// A packet filter that installs nothing and whose `allow` takes `allowDelay`, recording how many
/// `allow` calls ran at once at most and on how many distinct threads they ran.
final class SlowAllowFilter: PacketFilter {
    let allowDelay: TimeInterval
    private let state = Mutex<(now: Int, peak: Int, calls: Int, threads: Set<UInt>)>((0, 0, 0, []))

    init(allowDelay: TimeInterval) {
        self.allowDelay = allowDelay
    }

    func installBase(_ configuration: NetworkConfiguration) throws {}
    func add(_ link: SandboxLink, policy: NetworkPolicy) throws {}
    func update(_ link: SandboxLink, policy: NetworkPolicy) throws {}
    func remove(_ link: SandboxLink) throws {}
    func removeAll() throws {}

    func allow(_ link: SandboxLink, name: DNSName, addresses: [AddressBlock], ttlSeconds: Int) throws {
        let thread = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(bitPattern: UInt(pthread_self()))))
        state.withLock { state in
            state.now += 1
            state.calls += 1
            state.peak = max(state.peak, state.now)
            state.threads.insert(thread)
        }
        Thread.sleep(forTimeInterval: allowDelay)
        state.withLock { $0.now -= 1 }
    }

    var peakConcurrentAllows: Int { state.withLock { $0.peak } }
    var allowCalls: Int { state.withLock { $0.calls } }
    var allowThreads: Int { state.withLock { $0.threads.count } }
}
