import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost

extension HeavySuites {
    /// Hostile workloads stay inside their sandbox's limits, and the host keeps answering.
    @Suite(.enabled(if: runningAsRoot, "sandboxes need root, as in CI"))
    struct SandboxContainmentTests {
        /// Measures `/api/health` while `body` runs; answers the slowest answer in seconds.
        static func slowestHealth(_ client: any TestClientProtocol, during body: @Sendable @escaping () async throws -> Void) async throws -> Double {
            try await withThrowingTaskGroup(of: Double.self) { group in
                let done = Locked(false)
                group.addTask {
                    defer { done.mutate { $0 = true } }
                    try await body()
                    return 0
                }
                group.addTask {
                    var slowest = 0.0
                    while !done.value {
                        let start = ContinuousClock.now
                        try await client.execute(uri: "/api/health", method: .get) { #expect($0.status == .ok) }
                        let elapsed = ContinuousClock.now - start
                        slowest = max(slowest, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    return slowest
                }
                return try await group.reduce(0) { max($0, $1) }
            }
        }

        @Test(.hostWithSandbox) func timeoutKillsEveryProcessTheCommandStartedDetachedOrNot() async throws {
            let fixture = try HostFixture.current
            let sandboxes = fixture.sandboxes
            let sandbox = fixture.sandbox
            let result = try await sandboxes.exec(
                sandbox, "sleep 1e4 & setsid sleep 1e4 & nohup sleep 1e4 >/dev/null 2>&1 & (sleep 1e4 &) ; echo started; sleep 1e4",
                timeout: 2)
            #expect(result["timed_out"] as? Bool == true)
            #expect(result["exit_code"] as? Int == 124)
            #expect(result["stdout"] as? String == "started\n")
            let duration = result["duration_ms"] as? Int ?? 0
            #expect(duration >= 2000 && duration < 5000)
            #expect(try await sandboxes.run(sandbox, "pgrep -c sleep || true") == "0\n")
            _ = try await sandboxes.delete(sandbox)
        }

        @Test(.hostWithSandbox) func backgroundProcessesOfACommandThatFinishedKeepRunning() async throws {
            let fixture = try HostFixture.current
            let sandboxes = fixture.sandboxes
            let sandbox = fixture.sandbox
            let started = try await sandboxes.exec(sandbox, "nohup sleep 1000 >/dev/null 2>&1 & echo ok")
            #expect(started["exit_code"] as? Int == 0)
            #expect((started["duration_ms"] as? Int ?? 99_999) < 2000, "does not wait for the background process")
            // A background writer that keeps the pipe: the command still returns, the writer lives on.
            let writer = try await sandboxes.exec(sandbox, "(while true; do echo tick; sleep 0.2; done) & echo first")
            #expect(writer["exit_code"] as? Int == 0)
            try await Task.sleep(for: .milliseconds(600))
            #expect(try await sandboxes.run(sandbox, "pgrep -c sleep") != "0\n")
            _ = try await sandboxes.delete(sandbox)
        }

        @Test(.hostWithSandbox(configure: { $0.sandboxLimits.pids = 256 })) func forkBombIsContainedAndTheHostStaysResponsive() async throws {
            let fixture = try HostFixture.current
            let client = fixture.client, sandboxes = fixture.sandboxes
            let sandbox = fixture.sandbox
            let slowest = try await Self.slowestHealth(client) {
                // The bomb in a subshell: dash forks each element of `bomb | bomb &` from the shell
                // that runs it, and exits on a failed fork; the outer shell must live to time out.
                let result = try await sandboxes.exec(sandbox, "(bomb() { bomb | bomb & }; bomb); while :; do :; done", timeout: 3)
                #expect(result["timed_out"] as? Bool == true)
            }
            #expect(slowest < 1.0, "health took \(slowest) s during the fork bomb")
            // The timeout killed the whole bomb through the command's cgroup: nothing of it is left.
            #expect(try await sandboxes.run(sandbox, "ps -e -o comm= | grep -vc -e sandbox-init -e ps -e sh -e grep || true") == "0\n")
            #expect(try await sandboxes.run(sandbox, "echo recovered") == "recovered\n")
            _ = try await sandboxes.delete(sandbox)
        }

        @Test(.hostWithSandbox(configure: { $0.sandboxLimits.memoryMB = 128 })) func memoryBombIsKilledAtTheLimit() async throws {
            let fixture = try HostFixture.current
            let client = fixture.client, sandboxes = fixture.sandboxes
            let sandbox = fixture.sandbox
            let slowest = try await Self.slowestHealth(client) {
                let result = try await sandboxes.exec(
                    sandbox, "python3 -c \"b = bytearray()\nwhile True: b.extend(bytes(16 << 20))\"", timeout: 20)
                #expect(result["timed_out"] as? Bool == false)
                #expect(result["exit_code"] as? Int == 137, "killed by the OOM killer: \(result["output"] ?? "")")
            }
            #expect(slowest < 1.0)
            #expect(try await sandboxes.run(sandbox, "echo recovered") == "recovered\n")
            _ = try await sandboxes.delete(sandbox)
        }

        @Test(.hostWithSandbox) func stdoutFloodIsCappedAndTruncationSaid() async throws {
            let fixture = try HostFixture.current
            let client = fixture.client, sandboxes = fixture.sandboxes
            let sandbox = fixture.sandbox
            let slowest = try await Self.slowestHealth(client) {
                let result = try await sandboxes.exec(sandbox, "yes", timeout: 2)
                #expect(result["timed_out"] as? Bool == true)
                #expect(result["truncated"] as? Bool == true)
                #expect((result["stdout"] as? String)?.utf8.count == 1 << 20)
            }
            #expect(slowest < 1.0)
            let small = try await sandboxes.exec(sandbox, "head -c 3000000 /dev/zero | tr '\\0' x")
            #expect(small["truncated"] as? Bool == true)
            #expect(small["exit_code"] as? Int == 0)
            _ = try await sandboxes.delete(sandbox)
        }
    }
}
