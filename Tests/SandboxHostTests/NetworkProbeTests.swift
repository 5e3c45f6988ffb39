import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost
@testable import SandboxNetwork
@testable import SandboxRuntime

extension HeavySuites {
    /// `/api/health/deep`'s network checks (nft, NAT, /proc) against the real kernel.
    @Suite(.enabled(if: runningAsRoot, "nftables needs root, as in CI"))
    struct NetworkProbeTests {
        /// 20 admin calls at once: one probe runs (the others share its result, and later calls
        /// within 10 s get it cached), and every call reports the same status; before, each call
        /// made and deleted the same fixed-name NAT table, racing the others.
        @Test(.timeLimit(.minutes(2))) func concurrentDeepHealthChecksShareOneProbe() async throws {
            let host = try TestHost(environment: ["SANDBOX_HOST_NETWORK": "on", "SANDBOX_HOST_NETWORK_RANGE": FakeInternet.randomRange()])
            defer {
                host.services.network?.stop()
                host.remove()
            }
            let network = try #require(host.services.network, "networking did not start: \(host.services.networkStatus.detail)")
            let key = network.configuration.instanceKey
            let statuses = try await host.test { client in
                try await withThrowingTaskGroup(of: String.self) { group in
                    for _ in 0..<20 {
                        group.addTask {
                            try await client.execute(uri: "/api/health/deep", method: .get, headers: .bearer(host.adminKey)) { response in
                                let components = response.json["components"] as? [String: [String: Any]] ?? [:]
                                let checks = components["network"]?["checks"] as? [String: [String: Any]] ?? [:]
                                let nat = checks["nat"]?["status"] as? String ?? "missing"
                                return "\(components["network"]?["status"] as? String ?? "missing") nat=\(nat)"
                            }
                        }
                    }
                    var statuses: [String] = []
                    for try await status in group { statuses.append(status) }
                    return statuses
                }
            }
            #expect(statuses.count == 20)
            #expect(Set(statuses).count == 1, "\(statuses)")
            #expect(statuses.first == "ok nat=ok", "\(statuses)")
            #expect(SandboxNetwork.NetworkProbe.runs.withLock { $0[key] } == 1)
            #expect(network.probe.runs == 1)
        }
    }
}

/// The cache alone: a result is reused for `ttl`, then probed afresh.
struct NetworkProbeCacheTests {
    @Test func aResultIsReusedUntilItsTTLThenProbedAgain() async throws {
        // 5 s: two calls in a row fall inside it however loaded the machine is.
        let cache = NetworkProbeCache(ttl: .seconds(5)) {
            [Capability(name: "nat", status: .ok, detail: "", fix: "")]
        }
        #expect(await cache.capabilities().map(\.name) == ["nat"])
        #expect(await cache.capabilities().map(\.name) == ["nat"])
        #expect(cache.runs == 1)
        try await Task.sleep(for: .milliseconds(5_500))
        #expect(await cache.capabilities().map(\.name) == ["nat"])
        #expect(cache.runs == 2)
    }
}
