import Foundation
import Testing
@testable import SandboxHost
@testable import SandboxRuntime
#if canImport(Glibc)
import Glibc
#endif

extension HeavySuites {
/// A background process that a blocking command leaves behind keeps its output pipe; nobody
/// waits for that output, but the host still drains it (so the process never dies of SIGPIPE).
/// It must not cost the host's one poller thread — which serves every sandbox's control
/// messages and output — a whole core for as long as it runs.
@Suite(.enabled(if: runningAsRoot, "sandboxes need root, as in CI"))
struct OutputFloodTests {
    @Test(.hostWithSandbox) func aDetachedFloodDoesNotMonopoliseThePollerThread() async throws {
        let fixture = try HostFixture.current
        let sandboxes = fixture.sandboxes
        let sandbox = fixture.sandbox
        _ = EventPoller.shared  // the thread exists before it is looked for
        let poller = try #require(Self.pollerThread(), "no sandbox-poller thread in this process: \(Self.threadNames())")
        let result = try await sandboxes.exec(sandbox, "(yes flood &) ; echo started", timeout: 10)
        #expect((result["stdout"] as? String)?.contains("started") == true, "\(result)")
        let before = try #require(Self.cpuTicks(poller))
        try await Task.sleep(for: .seconds(2))
        let used = Double(try #require(Self.cpuTicks(poller)) - before) / Double(sysconf(Int32(_SC_CLK_TCK)))
        // Another sandbox's command still answers promptly meanwhile.
        let (_, other) = try await sandboxes.create(name: "other")
        let start = ContinuousClock.now
        #expect(try await sandboxes.run(other, "echo ok") == "ok\n")
        #expect(ContinuousClock.now - start < .seconds(2))
        #expect(used < 0.5, "the poller thread spent \(used) s of CPU in 2 s on a detached flood")
        // The flood is drained, not killed: it still runs.
        #expect(try await sandboxes.run(sandbox, "pgrep -x yes >/dev/null && echo alive") == "alive\n")
    }

    /// The tid of this process's `sandbox-poller` thread.
    static func pollerThread() -> String? {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.first { (try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8))?.hasPrefix("sandbox-poller") == true }
    }

    static func threadNames() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []).compactMap {
            try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8)
        }
    }

    /// utime + stime of a thread of this process, in clock ticks.
    static func cpuTicks(_ tid: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
        return user + system
    }
}
}
