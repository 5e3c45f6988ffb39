import Foundation
import Hummingbird
import Synchronization
import HummingbirdTesting
import Testing
@testable import SandboxHost
@testable import SandboxRuntime

/// The contract's Metrics section: one sandbox's figures (owner only) and `/metrics` in
/// Prometheus text (admin key, or public by configuration).
@Suite(.enabled(if: runningAsRoot, "sandboxes need root, as in CI"), .timeLimit(.minutes(1)))
struct MetricsTests {
    /// The fixture's sandbox's metrics, with `key` (the owner's by default).
    static func sandboxMetrics(_ fixture: HostFixture.Scope, key: String? = nil) async throws -> [String: Any] {
        try await fixture.client.execute(
            uri: "/api/sandboxes/\(fixture.sandbox)/metrics", method: .get, headers: .bearer(key ?? fixture.key)
        ) { response in
            try #require(response.status == .ok, "metrics: \(response.status) \(response.text)")
            return response.json
        }
    }

    static func number(_ body: [String: Any], _ field: String) -> Double {
        (body[field] as? NSNumber)?.doubleValue ?? -1
    }

    @Test(.hostWithSandbox) func runningSandboxHasEveryFieldAndItsLimits() async throws {
        let fixture = try HostFixture.current
        let before = Timestamp.milliseconds()
        let body = try await Self.sandboxMetrics(fixture)
        for field in ["cpu_percent", "cpu_seconds", "memory_bytes", "memory_limit_bytes", "pids", "pids_limit", "disk_bytes",
                      "disk_limit_bytes", "network_rx_bytes", "network_tx_bytes", "timestamp"] {
            #expect(body[field] is NSNumber, "\(field) missing in \(body)")
        }
        let limits = fixture.host.configuration.sandboxLimits
        #expect(body["state"] as? String == "running")
        #expect(Self.number(body, "memory_limit_bytes") == Double(Int64(limits.memoryMB) << 20))
        #expect(Self.number(body, "pids_limit") == Double(limits.pids))
        #expect(Self.number(body, "disk_limit_bytes") == Double(Int64(limits.diskMB) << 20))
        #expect(Self.number(body, "pids") >= 1, "PID 1 at least: \(body)")
        #expect(Self.number(body, "memory_bytes") > 0)
        #expect(Self.number(body, "cpu_seconds") > 0, "starting the sandbox took some CPU: \(body)")
        #expect(Self.number(body, "cpu_percent") >= 0)
        #expect(Self.number(body, "disk_bytes") > 0)
        // Networking is off in test hosts: no link, no counters.
        #expect(Self.number(body, "network_rx_bytes") == 0)
        #expect(Self.number(body, "network_tx_bytes") == 0)
        let timestamp = Int64(Self.number(body, "timestamp"))
        #expect(timestamp >= before && timestamp <= Timestamp.milliseconds())
    }

    @Test(.hostWithSandbox) func anotherUsersKeyAndAnUnknownSandboxAre404() async throws {
        let fixture = try HostFixture.current
        let stranger = try fixture.host.makeUser("stranger")
        let theirs = try await fixture.client.execute(uri: "/api/sandboxes/\(fixture.sandbox)/metrics", method: .get, headers: .bearer(stranger)) { $0.status }
        #expect(theirs == .notFound)
        let unknown = try await fixture.client.execute(uri: "/api/sandboxes/nope/metrics", method: .get, headers: .bearer(fixture.key)) { $0.status }
        #expect(unknown == .notFound)
        let anonymous = try await fixture.client.execute(uri: "/api/sandboxes/\(fixture.sandbox)/metrics", method: .get) { $0.status }
        #expect(anonymous == .unauthorized)
    }

    /// 200 MB held by a process inside shows in `memory_bytes`, its process in `pids`.
    @Test(.hostWithSandbox) func memoryAndProcessesShow() async throws {
        let fixture = try HostFixture.current
        let before = try await Self.sandboxMetrics(fixture)
        _ = try await fixture.sandboxes.run(fixture.sandbox, """
            python3 -c "import time; b = b'x' * (200 << 20); time.sleep(8)" >/dev/null 2>&1 &
            for i in 1 2 3 4 5; do sleep 8 >/dev/null 2>&1 & done
            """)
        var last: [String: Any] = [:]
        do {
            try await waitUntil("200 MB and 6 processes in the metrics", timeout: .seconds(20), every: .milliseconds(200)) {
                last = try await Self.sandboxMetrics(fixture)
                return Self.number(last, "memory_bytes") >= Self.number(before, "memory_bytes") + Double(190 << 20)
                    && Self.number(last, "pids") >= 6
            }
        } catch {
            Issue.record("before \(before), last \(last)")
            throw error
        }
        #expect(Self.number(last, "memory_bytes") < Self.number(last, "memory_limit_bytes"))
    }

    @Test(.hostWithSandbox) func diskGrowsWithAWrite() async throws {
        let fixture = try HostFixture.current
        let before = Self.number(try await Self.sandboxMetrics(fixture), "disk_bytes")
        _ = try await fixture.sandboxes.run(fixture.sandbox, "head -c 10M /dev/urandom > /workspace/ten && sync")
        let after = Self.number(try await Self.sandboxMetrics(fixture), "disk_bytes")
        #expect(after >= before + Double(10 << 20) * 0.95, "disk_bytes \(before) → \(after)")
    }

    /// A stopped sandbox: no CPU, memory or processes (its cgroups are gone), its disk still there.
    @Test(.hostWithSandbox) func stoppedSandboxHasZerosButItsDisk() async throws {
        let fixture = try HostFixture.current
        _ = try await fixture.sandboxes.run(fixture.sandbox, "head -c 1M /dev/urandom > /workspace/one && sync")
        try await fixture.host.services.runtime.stop(fixture.sandbox)
        let body = try await Self.sandboxMetrics(fixture)
        #expect(body["state"] as? String == "stopped")
        for field in ["cpu_percent", "cpu_seconds", "memory_bytes", "pids", "network_rx_bytes", "network_tx_bytes"] {
            #expect(Self.number(body, field) == 0, "\(field) of a stopped sandbox: \(body)")
        }
        #expect(Self.number(body, "disk_bytes") >= Double(1 << 20))
        #expect(Self.number(body, "memory_limit_bytes") > 0)
    }

    // MARK: - /metrics

    @Test(.hostWithSandbox) func prometheusTextHasRequestsCommandsAndSandboxes() async throws {
        let fixture = try HostFixture.current
        _ = try await fixture.sandboxes.run(fixture.sandbox, "echo hi")
        _ = try await Self.sandboxMetrics(fixture)
        _ = try await fixture.client.execute(uri: "/no/such/route/\(UUID().uuidString)", method: .get) { $0.status }
        let (status, contentType, text) = try await fixture.client.execute(uri: "/metrics", method: .get, headers: .bearer(fixture.key)) {
            ($0.status, $0.headers[.contentType], $0.text)
        }
        #expect(status == .ok)
        #expect(contentType?.hasPrefix("text/plain; version=0.0.4") == true, "\(contentType ?? "none")")
        let exposition = try PrometheusText(text)

        let executes = exposition.value(
            "sandbox_host_http_requests_total", ["route": "/api/sandboxes/{sandbox_id}/execute", "method": "POST", "status": "2xx"])
        #expect((executes ?? 0) >= 1, "no execute in:\n\(text)")
        #expect(exposition.types["sandbox_host_http_request_duration_seconds"] == "histogram")
        #expect((exposition.value("sandbox_host_http_requests_total", ["route": "unmatched", "method": "GET", "status": "4xx"]) ?? 0) >= 1)
        // The raw path of a request never becomes a label.
        #expect(!text.contains(fixture.sandbox + "/execute"))
        #expect(!text.contains("/no/such/route"))

        #expect(exposition.types["sandbox_host_exec_duration_seconds"] == "histogram")
        #expect((exposition.value("sandbox_host_exec_duration_seconds_count", ["outcome": "exited"]) ?? 0) >= 1)
        #expect((exposition.value("sandbox_host_exec_duration_seconds_bucket", ["outcome": "exited", "le": "+Inf"]) ?? 0) >= 1)
        #expect((exposition.value("sandbox_host_sandbox_start_duration_seconds_count", [:]) ?? 0) >= 1)

        #expect(exposition.value("sandbox_host_sandboxes", ["state": "running"]) == 1)
        #expect(exposition.value("sandbox_host_sandboxes", ["state": "stopped"]) == 0)
        for status in ["running", "completed", "failed", "stopped"] {
            #expect(exposition.value("sandbox_host_agent_runs", ["status": status]) == 0)
        }
        #expect((exposition.value("sandbox_host_sandbox_memory_bytes", ["sandbox_id": fixture.sandbox]) ?? 0) > 0)
        #expect((exposition.value("sandbox_host_sandbox_cpu_seconds", ["sandbox_id": fixture.sandbox]) ?? 0) > 0)
        #expect((exposition.value("sandbox_host_sandbox_disk_bytes", ["sandbox_id": fixture.sandbox]) ?? 0) > 0)

        // Stopped: the sandbox counts as stopped and its own series are gone.
        try await fixture.host.services.runtime.stop(fixture.sandbox)
        let after = try PrometheusText(try await fixture.client.execute(uri: "/metrics", method: .get, headers: .bearer(fixture.key)) { $0.text })
        #expect(after.value("sandbox_host_sandboxes", ["state": "stopped"]) == 1)
        #expect(after.value("sandbox_host_sandbox_memory_bytes", ["sandbox_id": fixture.sandbox]) == nil)
    }

    @Test(.testHost) func prometheusNeedsTheAdminKey() async throws {
        let fixture = try HostFixture.current
        let stranger = try fixture.host.makeUser("stranger")
        func get(_ headers: HTTPFields) async throws -> (HTTPResponse.Status, String) {
            try await fixture.client.execute(uri: "/metrics", method: .get, headers: headers) { ($0.status, $0.text) }
        }
        let none = try await get([:])
        #expect(none.0 == .unauthorized)
        #expect(none.1.contains("UNAUTHORIZED"))
        #expect(try await get(.bearer("sk-not-a-key")).0 == .unauthorized)
        let other = try await get(.bearer(stranger))
        #expect(other.0 == .forbidden)
        #expect(!other.1.contains("sandbox_host_"))
        #expect(try await get(.bearer(fixture.key)).0 == .ok)
    }

    @Test(.testHost(configure: { $0.metricsPublic = true })) func publicMetricsNeedNoKey() async throws {
        let fixture = try HostFixture.current
        let (status, text) = try await fixture.client.execute(uri: "/metrics", method: .get) { ($0.status, $0.text) }
        #expect(status == .ok)
        #expect(try PrometheusText(text).types["sandbox_host_sandboxes"] == "gauge")
    }

    @Test func publicIsReadFromTheEnvironment() {
        #expect(HostConfiguration.fromEnvironment([:]).metricsPublic == false)
        #expect(HostConfiguration.fromEnvironment(["SANDBOX_HOST_METRICS_PUBLIC": "1"]).metricsPublic == true)
        #expect(HostConfiguration.fromEnvironment(["SANDBOX_HOST_METRICS_PUBLIC": "0"]).metricsPublic == false)
    }

    @Test func routeLabelIsThePatternOrUnmatched() {
        #expect(MetricsRequestMiddleware.route("/api/sandboxes/{sandbox_id}/execute") == "/api/sandboxes/{sandbox_id}/execute")
        #expect(MetricsRequestMiddleware.route("/**") == "unmatched")
        #expect(MetricsRequestMiddleware.route(nil) == "unmatched")
        #expect(HostMetrics.methodLabel(.init("BREW")!) == "other")
        #expect(HostMetrics.statusClass(404) == "4xx")
    }

    /// Scrapes at once share one render; one after them renders afresh.
    final class ScrapeCounts: Sendable {
        let renders = Mutex(0), entered = Mutex(0), released = Mutex(false)
    }

    @Test func concurrentScrapesShareOne() async throws {
        let sharing = SharedScrape()
        let counts = ScrapeCounts()
        let scrape: @Sendable () async throws -> [UInt8] = {
            counts.entered.withLock { $0 += 1 }
            return try await sharing.value {
                counts.renders.withLock { $0 += 1 }
                try await waitUntil("released", timeout: .seconds(20)) { counts.released.withLock { $0 } }
                return [1]
            }
        }
        async let first = scrape()
        async let second = scrape()
        try await waitUntil("both scrapes asked", timeout: .seconds(20)) { counts.entered.withLock { $0 } == 2 }
        try await Task.sleep(for: .milliseconds(50))
        counts.released.withLock { $0 = true }
        #expect(try await first == [1])
        #expect(try await second == [1])
        #expect(counts.renders.withLock { $0 } == 1)
        _ = try await scrape()
        #expect(counts.renders.withLock { $0 } == 2)
    }

    @Test func cgroupFilesParse() {
        #expect(CgroupManager.parseNumber("1234\n") == 1234)
        #expect(CgroupManager.parseNumber("max\n") == nil)
        #expect(CgroupManager.parseNumber("9223372036854771712\n") == nil)
        #expect(CgroupManager.parseStatField("usage_usec 250\nuser_usec 100\n", "usage_usec") == 250)
        #expect(CgroupManager.parseStatField("cache 5\ntotal_inactive_file 4096\n", "total_inactive_file") == 4096)
        #expect(CgroupManager.parseStatField("cache 5\n", "inactive_file") == nil)
    }

    /// Both layouts, from files laid out as the kernel does (this machine runs v1 only).
    @Test func usageIsReadFromEitherLayout() throws {
        let root = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: root) }
        func write(_ path: String, _ text: String) throws {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: false, encoding: .utf8)
        }
        let v2 = CgroupManager(layout: .v2(root: root + "/unified", controllers: []), instance: "i")
        let group = root + "/unified/sandbox-host/i/s"
        try write(group + "/cpu.stat", "usage_usec 1500000\nuser_usec 1000000\n")
        try write(group + "/memory.current", "300000000\n")
        try write(group + "/memory.stat", "anon 250000000\ninactive_file 100000000\n")
        try write(group + "/memory.max", "2147483648\n")
        try write(group + "/pids.current", "7\n")
        try write(group + "/pids.max", "max\n")
        var usage = SandboxUsage(running: true, pidsLimit: 512)
        v2.readUsage("s", into: &usage)
        #expect(usage.cpuNanoseconds == 1_500_000_000)
        #expect(usage.memoryBytes == 200_000_000)
        #expect(usage.memoryLimitBytes == 2_147_483_648)
        #expect(usage.pids == 7 && usage.pidsLimit == 512, "pids.max `max` keeps the record's limit")

        let mounts = ["memory", "pids", "cpu", "cpuacct"].reduce(into: [String: String]()) { $0[$1] = root + "/" + $1 }
        let v1 = CgroupManager(layout: .v1(mounts: mounts), instance: "i")
        try write(root + "/cpuacct/sandbox-host/i/s/cpuacct.usage", "42000\n")
        try write(root + "/memory/sandbox-host/i/s/memory.usage_in_bytes", "5000\n")
        try write(root + "/memory/sandbox-host/i/s/memory.stat", "cache 1000\ntotal_inactive_file 1000\n")
        try write(root + "/memory/sandbox-host/i/s/memory.limit_in_bytes", "9223372036854771712\n")
        try write(root + "/pids/sandbox-host/i/s/pids.current", "3\n")
        try write(root + "/pids/sandbox-host/i/s/pids.max", "64\n")
        var legacy = SandboxUsage(running: true, memoryLimitBytes: 1 << 30)
        v1.readUsage("s", into: &legacy)
        #expect(legacy.cpuNanoseconds == 42_000 && legacy.memoryBytes == 4000 && legacy.pids == 3 && legacy.pidsLimit == 64)
        #expect(legacy.memoryLimitBytes == 1 << 30, "no limit in the group keeps the record's")
        // Gone groups (a stop) leave the figures as they were.
        var gone = SandboxUsage(running: true)
        v1.readUsage("other", into: &gone)
        #expect(gone.cpuNanoseconds == 0 && gone.memoryBytes == 0 && gone.pids == 0)
    }

    @Test func cpuPercentIsOverTheIntervalSinceTheLastReading() {
        let sampler = CPUSampler()
        func reading(_ cpu: Double, at seconds: Double) -> SandboxUsage {
            SandboxUsage(running: true, cpuNanoseconds: UInt64(cpu * 1e9), monotonicSeconds: seconds)
        }
        #expect(sampler.percent("s", reading(1, at: 100)) == nil, "nothing to compare the first reading with")
        #expect(sampler.percent("s", reading(1.5, at: 101)) == 50)
        #expect(sampler.percent("s", reading(1.6, at: 101.05)) == 50, "within 100 ms: the last percent, no noise")
        #expect(sampler.percent("s", reading(3.5, at: 102)) == 200, "two CPUs busy")
        #expect(sampler.percent("s", reading(0.1, at: 103)) == nil, "restarted: its counter went back")
        sampler.forget("s")
        #expect(sampler.percent("s", reading(0.2, at: 104)) == nil)
    }

    @Test func parserRejectsWhatIsNotPrometheusText() {
        #expect(throws: (any Error).self) { try PrometheusText("# TYPE x counter\nx{a=\"1\" 2\n") }
        #expect(throws: (any Error).self) { try PrometheusText("x 1 2 3\n") }
        #expect(throws: (any Error).self) { try PrometheusText("# TYPE h histogram\nh_bucket{le=\"1\"} 1\n") }
        let parsed = try? PrometheusText("# HELP x A thing.\n# TYPE x gauge\nx{a=\"q\\\"uote\",b=\"2\"} 3.5\n")
        #expect(parsed?.value("x", ["a": "q\"uote", "b": "2"]) == 3.5)
    }
}
