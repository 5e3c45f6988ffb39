import Foundation
import Testing
@testable import SandboxHost
@testable import SandboxRuntime

/// Back-pressure between sessions' output and their log writer when the disk stops answering.
/// The stall is real and needs no root: the session's `commands` file is a FIFO nobody reads,
/// so the writer thread blocks in `write` once a command record fills the FIFO's 64 KiB.
struct SessionBackPressureTests {
    /// Runs `body` on a thread of its own; answers whether it returned within `deadline` (a
    /// call that blocks is left behind, blocked, rather than hanging the test).
    static func returns(within deadline: Duration, _ body: @escaping @Sendable () -> Void) async throws -> Bool {
        let done = Locked(false)
        Thread { body(); done.mutate { $0 = true } }.start()
        let end = ContinuousClock.now + deadline
        while !done.value, ContinuousClock.now < end { try await Task.sleep(for: .milliseconds(10)) }
        return done.value
    }

    @Test func aStalledWriterHoldsBackOnlyTheFullSessionAndNeverTheCaller() async throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A writer of this test's own: the stall must not reach the shared one.
        let writer = SessionLogWriter(share: 256 << 10, limit: 64 << 20)
        try FileManager.default.createDirectory(atPath: directory + "/stalled", withIntermediateDirectories: true)
        try #require(mkfifo(directory + "/stalled/commands", 0o600) == 0)
        let stalled = try Session(name: "stalled", directory: directory + "/stalled", capacity: 64 << 20, writer: writer)
        let other = try Session(name: "other", directory: directory + "/other", capacity: 64 << 20, writer: writer)
        // A command record larger than the FIFO holds: the writer blocks writing it.
        stalled.started(id: "c", command: String(repeating: "x", count: 128 << 10), number: 1)

        // Output keeps arriving (on the poller thread, in the host): every call returns at once,
        // however far behind the writer is; the session says it is full instead of waiting.
        let fed = try await Self.returns(within: .seconds(5)) {
            SessionLogTests.feed(stalled, [UInt8](repeating: 0x61, count: 1 << 20))
        }
        #expect(fed, "logging output waited for the stalled disk")
        #expect(stalled.isFull)
        // Another session's output is queued within its own share, at once, and does not count
        // as full. (Its records are written by the same writer thread, so they wait for the
        // stalled disk too: the share bounds memory and the poller, not the disk.)
        let otherFed = try await Self.returns(within: .seconds(5)) {
            SessionLogTests.feed(other, [UInt8](repeating: 0x62, count: 128 << 10))
        }
        #expect(otherFed && !other.isFull, "one session's backlog holds back another session's output")
        let resumed = Locked(false)
        #expect(stalled.waitForRoom { resumed.mutate { $0 = true } }, "a full session keeps the producer's resume")

        // The disk answers again: the writer catches up and calls the held-back producer back.
        let reader = open(directory + "/stalled/commands", O_RDONLY | O_NONBLOCK)
        try #require(reader >= 0)
        defer { close(reader) }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let deadline = ContinuousClock.now + .seconds(10)
        while !resumed.value, ContinuousClock.now < deadline {
            if buffer.withUnsafeMutableBytes({ read(reader, $0.baseAddress, $0.count) }) <= 0 {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        #expect(resumed.value, "the producer was never resumed")
        #expect(!stalled.isFull)
        #expect(!stalled.waitForRoom { Issue.record("resumed although there was room") })
    }
}
