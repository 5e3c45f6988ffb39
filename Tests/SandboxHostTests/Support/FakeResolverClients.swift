import Foundation
import SandboxRuntime
import Synchronization
@testable import SandboxNetwork

/// The resolver's view of the sandboxes, for tests: loopback source addresses mapped to a sandbox
/// and its policy, and every `allow` call recorded once it has finished (after `allowDelay`, so
/// a test can tell whether the answer waited for it).
final class FakeResolverClients: ResolverClients {
    struct Allowed: Sendable, Equatable {
        var sandboxID: String
        var addresses: [String]
        var ttlSeconds: Int
    }

    private let table: Mutex<[[UInt8]: (sandboxID: String, policy: NetworkPolicy)]>
    private let allowed = Mutex<[Allowed]>([])
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

    func allow(sandboxID: String, addresses: [AddressBlock], ttlSeconds: Int) async throws {
        if allowDelay > .zero { try await Task.sleep(for: allowDelay) }
        if allowFails { throw CocoaError(.featureUnsupported) }
        allowed.withLock { $0.append(Allowed(sandboxID: sandboxID, addresses: addresses.map(\.description), ttlSeconds: ttlSeconds)) }
    }

    var allowCalls: [Allowed] { allowed.withLock { $0 } }
}
