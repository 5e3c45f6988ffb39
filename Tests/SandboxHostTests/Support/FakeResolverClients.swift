import Foundation
import SandboxRuntime
import Synchronization
@testable import SandboxNetwork

/// The resolver's view of the sandboxes, for tests: loopback source addresses mapped to a sandbox
/// and its policy, and every `allow` call recorded once it has finished (after `allowDelay`, so
/// a test can tell whether the answer waited for it), and the most `allow` calls ever in flight
/// at once for one sandbox.
final class FakeResolverClients: ResolverClients {
    struct Allowed: Sendable, Equatable {
        var sandboxID: String
        var addresses: [String]
        var ttlSeconds: Int
    }

    private let table: Mutex<[[UInt8]: (sandboxID: String, policy: NetworkPolicy)]>
    private let allowed = Mutex<[Allowed]>([])
    private let inFlight = Mutex<(now: [String: Int], peak: Int)>(([:], 0))
    let allowDelay: Duration
    let allowFails: Bool

    init(_ table: [[UInt8]: (sandboxID: String, policy: NetworkPolicy)], allowDelay: Duration = .zero, allowFails: Bool = false) {
        self.table = Mutex(table)
        self.allowDelay = allowDelay
        self.allowFails = allowFails
    }

    func client(at source: [UInt8]) -> (sandboxID: String, policy: NetworkPolicy)? {
        table.withLock { $0[source] }
    }

    func allow(sandboxID: String, name: DNSName, addresses: [AddressBlock], ttlSeconds: Int) async throws {
        inFlight.withLock { state in
            state.now[sandboxID, default: 0] += 1
            state.peak = max(state.peak, state.now[sandboxID, default: 0])
        }
        defer { inFlight.withLock { $0.now[sandboxID, default: 1] -= 1 } }
        if allowDelay > .zero { try await Task.sleep(for: allowDelay) }
        if allowFails { throw CocoaError(.featureUnsupported) }
        allowed.withLock { $0.append(Allowed(sandboxID: sandboxID, addresses: addresses.map(\.description), ttlSeconds: ttlSeconds)) }
    }

    var allowCalls: [Allowed] { allowed.withLock { $0 } }
    /// The most `allow` calls in flight at once for one sandbox.
    var peakAllowsInFlight: Int { inFlight.withLock { $0.peak } }
}
