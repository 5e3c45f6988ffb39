import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost
@testable import SandboxNetwork
@testable import SandboxRuntime

extension HeavySuites {
    /// Metrics that need a busy sandbox (a CPU burner) or a network of its own: one at a time.
    @Suite(.enabled(if: runningAsRoot, "sandboxes need root, as in CI"), .timeLimit(.minutes(1)))
    struct MetricsLoadTests {
        /// A CPU burner inside moves `cpu_seconds`, and `cpu_percent` over the interval between
        /// two calls shows it (the sandbox may use one CPU: its limit).
        @Test(.hostWithSandbox) func cpuBurnerMovesCPUTimeAndPercent() async throws {
            let fixture = try HostFixture.current
            let first = try await MetricsTests.sandboxMetrics(fixture)
            _ = try await fixture.sandboxes.run(fixture.sandbox, "timeout 4 sh -c 'while :; do :; done' >/dev/null 2>&1 & echo $! > /tmp/burner")
            var busiest = 0.0
            var last = first
            try await waitUntil("the burner's CPU time in the metrics", timeout: .seconds(20), every: .milliseconds(300)) {
                last = try await MetricsTests.sandboxMetrics(fixture)
                busiest = max(busiest, MetricsTests.number(last, "cpu_percent"))
                return MetricsTests.number(last, "cpu_seconds") >= MetricsTests.number(first, "cpu_seconds") + 0.5 && busiest > 10
            }
            #expect(busiest <= 100 * fixture.host.configuration.sandboxLimits.cpus * 1.2, "cpu_percent \(busiest) above the sandbox's CPU limit")
            // Once it has ended, the percent falls back.
            _ = try await fixture.sandboxes.run(fixture.sandbox, "while kill -0 $(cat /tmp/burner) 2>/dev/null; do sleep 0.1; done")
            _ = try await MetricsTests.sandboxMetrics(fixture)
            try await Task.sleep(for: .milliseconds(500))
            #expect(MetricsTests.number(try await MetricsTests.sandboxMetrics(fixture), "cpu_percent") < 10)
        }

        /// With networking, the counters are the host end's, mirrored: traffic from the sandbox
        /// to its gateway moves both directions.
        @Test func networkCountersFollowTheLink() async throws {
            let bed = try NetworkTestBed()
            defer { Task { await bed.remove() } }
            let record = try await bed.runtime.ensureActive(projectID: try await bed.project(), image: ImageStore.defaultName)
            let link = try #require(bed.manager.attachedLink(record.id))
            #expect(bed.manager.hostInterface(sandboxID: record.id) == link.hostInterface)
            let before = try #require(try await bed.runtime.usage([record]).first)
            let gateway = AddressPlan.text(link.gateway)
            let sent = try await bed.exec(record, """
                python3 - <<'PY'
                import socket
                for _ in range(20):
                    try: socket.create_connection(('\(gateway)', 9), 2).close()
                    except OSError: pass
                PY
                """)
            #expect(sent.exit_code == 0, "\(sent.output)")
            let after = try #require(try await bed.runtime.usage([record]).first)
            #expect(after.networkSentBytes >= before.networkSentBytes + 20 * 40, "sent \(before.networkSentBytes) → \(after.networkSentBytes)")
            #expect(after.networkReceivedBytes >= before.networkReceivedBytes + 20 * 40, "received \(before.networkReceivedBytes) → \(after.networkReceivedBytes)")
            try await bed.runtime.stop(record.id)
            let stopped = try #require(try await bed.runtime.usage([record]).first)
            #expect(!stopped.running && stopped.networkSentBytes == 0 && stopped.networkReceivedBytes == 0)
        }
    }
}
