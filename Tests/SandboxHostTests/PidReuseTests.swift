import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost
#if canImport(Glibc)
import Glibc
#endif

/// The host signals a sandbox's PID 1 through a pidfd, not its pid number: PID 1 is reaped by
/// sandbox-init's outer process, so once it has died its number is free for any process on the
/// host, and a stop that kills "that pid" would kill a stranger.
@Suite(.enabled(if: runningAsRoot, "sandboxes need root, as in CI"))
struct PidReuseTests {
    @Test(.hostWithSandbox) func stoppingASandboxWhosePID1DiedSparesTheProcessThatReusedItsPid() async throws {
        try await Self.withStrangerAtDeadPID1 { host, _, sandbox, stranger in
            try await host.services.runtime.stop(sandbox)
            var status: Int32 = 0
            #expect(waitpid(stranger, &status, WNOHANG) == 0, "the process that reused PID 1's number was killed")
        }
    }

    /// A preview connects inside the sandbox through PID 1's pidfd: with its number instead, a
    /// host process that took the number after PID 1 died would lend the proxy the host's own
    /// network namespace, and the preview would reach a server on the host's loopback.
    @Test(.hostWithSandbox) func aPreviewOfASandboxWhosePID1DiedNeverReachesTheHostsLoopback() async throws {
        let served = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: served) }
        try "host-only-secret\n".write(toFile: served + "/secret.txt", atomically: true, encoding: .utf8)
        let port = Int.random(in: 41_000..<49_000)
        let server = ["/usr/bin/python3", "-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", served]
        try await Self.withStrangerAtDeadPID1(server) { host, client, sandbox, _ in
            // The stranger listens on the host's loopback before the preview is asked for.
            try await waitUntil("the stranger to listen", timeout: .seconds(5)) { (try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8))?
                .contains(String(format: ":%04X 00000000:0000 0A", port)) == true }
            let (status, body) = try await client.execute(
                uri: "/preview/\(sandbox)/\(port)/secret.txt", method: .get, headers: .bearer(host.adminKey)
            ) { ($0.status, $0.text) }
            #expect(!body.contains("host-only-secret"), "the preview reached the host's loopback: \(status)")
            #expect(status == .serviceUnavailable, "\(status) \(body)")
        }
    }

    /// The test's sandbox (`.hostWithSandbox`) once its PID 1 died behind the host's back (as a
    /// crash would; the outer reaped it) and a host process, `arguments`, started with PID 1's old
    /// number: `body` gets both.
    static func withStrangerAtDeadPID1(
        _ arguments: [String] = ["/bin/sleep", "60"],
        _ body: @Sendable (TestHost, any TestClientProtocol, String, pid_t) async throws -> Void
    ) async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client, sandbox = fixture.sandbox
        let pid = try #require(await host.services.runtime.initPID(sandbox))
        #expect(kill(pid, SIGKILL) == 0)
        try await waitUntil("PID 1 to be gone", timeout: .seconds(5)) { access("/proc/\(pid)", F_OK) != 0 }
        // A stranger takes the number (ns_last_pid: the next pid the kernel hands out).
        guard let stranger = try await spawnWithPid(pid, arguments) else {
            Issue.record("could not place a process at pid \(pid) (the machine forks too much); nothing checked")
            return
        }
        defer {
            kill(stranger, SIGKILL)
            var status: Int32 = 0
            waitpid(stranger, &status, 0)
        }
        try await body(host, client, sandbox, stranger)
    }

    /// `arguments` (default `sleep 60`) started with pid `wanted`, or nil when other processes keep taking it.
    static func spawnWithPid(_ wanted: pid_t, _ arguments: [String] = ["/bin/sleep", "60"]) async throws -> pid_t? {
        for _ in 0..<100 {
            if access("/proc/\(wanted)", F_OK) == 0 {  // someone else has it for now
                try await Task.sleep(for: .milliseconds(20))
                continue
            }
            let last = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC)
            guard last >= 0 else { return nil }
            let text = "\(wanted - 1)"
            _ = text.withCString { write(last, $0, strlen($0)) }
            close(last)
            var child: pid_t = 0
            let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
            defer { argv.forEach { free($0) } }
            let rc = posix_spawn(&child, arguments[0], nil, nil, argv, environ)
            guard rc == 0 else { return nil }
            if child == wanted { return child }
            kill(child, SIGKILL)
            var status: Int32 = 0
            waitpid(child, &status, 0)
        }
        return nil
    }
}
