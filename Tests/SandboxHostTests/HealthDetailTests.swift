import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost
@testable import SandboxRuntime

/// `/api/health/deep` tells the host's details (user, kernel, paths, sizes) to the admin key only.
struct HealthDetailTests {
    static var kernelRelease: String {
        var names = utsname()
        uname(&names)
        return withUnsafeBytes(of: &names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    @Test(.testHost) func withoutTheAdminKeyDetailsAreGeneric() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let otherKey = try host.makeUser("mallory")
        for headers: HTTPFields in [[:], .bearer(otherKey), .bearer("sk-not-a-key")] {
            try await client.execute(uri: "/api/health/deep", method: .get, headers: headers) { response in
                let text = response.text
                let components = response.json["components"] as? [String: [String: Any]] ?? [:]
                #expect(Set(components.keys) == ["database", "sandbox_runtime", "disk", "llm", "network"], "\(text)")
                #expect(components.values.allSatisfy { ($0["detail"] as? String)?.isEmpty == false && $0["status"] is String })
                #expect(!text.contains(Self.kernelRelease), "the kernel: \(text)")
                #expect(!text.contains("root"), "the host's user: \(text)")
                #expect(!text.contains(host.directory) && !text.contains("/"), "a path: \(text)")
                #expect(!text.contains("free_bytes") && !text.contains("GiB"), "a size: \(text)")
                #expect(!text.contains("checks"), "\(text)")
            }
        }
    }

    @Test(.testHost) func theAdminKeySeesEverything() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        try await client.execute(uri: "/api/health/deep", method: .get, headers: .bearer(host.adminKey)) { response in
            let text = response.text
            let components = response.json["components"] as? [String: [String: Any]] ?? [:]
            #expect(components["disk"]?["free_bytes"] is Int, "\(text)")
            #expect((components["disk"]?["detail"] as? String)?.contains("GiB") == true)
            let checks = components["sandbox_runtime"]?["checks"] as? [String: [String: Any]] ?? [:]
            #expect(checks["idmapped_mounts"]?["detail"] as? String != nil, "\(text)")
            #expect(text.contains(Self.kernelRelease), "\(text)")
        }
    }
}

/// Anonymous deep health checks share one runtime probe for a while (each probe clones every
/// namespace kind on the shared pool; the route needs no key).
@Suite(.enabled(if: runningAsRoot, "the probe needs root, as in CI"))
struct RuntimeProbeCacheTests {
    @Test func concurrentAndRepeatedCallsShareOneProbe() async throws {
        let cache = RuntimeProbeCache(maxAge: .seconds(60))
        let answers = try await withThrowingTaskGroup(of: [Capability].self) { group in
            for _ in 0..<20 { group.addTask { await cache.capabilities() } }
            return try await group.reduce(into: [[Capability]]()) { $0.append($1) }
        }
        #expect(Set(answers.map(\.count)).count == 1 && !answers[0].isEmpty)
        _ = await cache.capabilities()
        #expect(await cache.probes == 1)
        _ = await cache.capabilities(fresh: true)
        #expect(await cache.probes == 2)
    }
}
