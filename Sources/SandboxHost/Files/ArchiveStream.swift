import FileAPI
import Foundation
import Hummingbird
import Synchronization

/// Runs an `ArchiveWriter` on its own thread and hands its output to an HTTP response as it is
/// made. A few blocks may be in flight (credits); the writer waits for the client beyond that, so
/// memory stays flat. When the client goes away the writer's next block is refused and the walk
/// stops. A client that stops reading (one block waiting longer than `writeTimeout` to be taken)
/// has its connection closed the same way: the walk, its descriptors and its thread are released.
enum ArchiveStream {
    static let creditCount = 8

    static func body(_ writer: ArchiveWriter, writeTimeout: Duration) -> ResponseBody {
        ResponseBody { output in
            let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream()
            let credits = DispatchSemaphore(value: creditCount)
            let abandoned = Flag()
            let thread = Thread {
                _ = try? writer.write { bytes in
                    if abandoned.value.load(ordering: .acquiring) { return false }
                    credits.wait()
                    if abandoned.value.load(ordering: .acquiring) { return false }
                    continuation.yield(ByteBuffer(bytes: bytes))
                    return true
                }
                continuation.finish()
            }
            thread.name = "archive-download"
            thread.start()
            // The blocks are written by a child task, so a stalled write can be cancelled; the
            // writer is used by that task alone until the group is over.
            let box = WriterBox(output)
            let watch = WriteWatch()
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await block in stream {
                            watch.begin()
                            try await box.writer.write(block)
                            watch.end()
                            credits.signal()
                        }
                    }
                    group.addTask { try await watch.run(timeout: writeTimeout) }
                    try await group.next()
                    group.cancelAll()
                }
            } catch {
                abandon(abandoned, credits)
                throw error
            }
            abandon(abandoned, credits)
            output = box.writer
            try await output.finish(nil)
        }
    }

    private final class Flag: Sendable {
        let value = Atomic<Bool>(false)
    }

    private final class WriterBox: @unchecked Sendable {
        var writer: any ResponseBodyWriter
        init(_ writer: any ResponseBodyWriter) { self.writer = writer }
    }

    /// When the write in progress began (0: none), and the watchdog that gives up on it.
    private final class WriteWatch: Sendable {
        private let since = Atomic<UInt64>(0)

        func begin() { since.store(max(1, DispatchTime.now().uptimeNanoseconds), ordering: .releasing) }
        func end() { since.store(0, ordering: .releasing) }

        /// Returns when cancelled; throws once one write has waited longer than `timeout`.
        func run(timeout: Duration) async throws {
            let limit = UInt64(timeout.components.seconds) * 1_000_000_000 + UInt64(timeout.components.attoseconds / 1_000_000_000)
            let tick = min(timeout / 4, .seconds(1))
            while true {
                do { try await Task.sleep(for: tick) } catch { return }
                let began = since.load(ordering: .acquiring)
                let now = DispatchTime.now().uptimeNanoseconds
                if began != 0, now > began, now - began > limit {
                    throw HostError(.internalError, "the client read nothing of the download for \(timeout); closing it")
                }
            }
        }
    }

    private static func abandon(_ abandoned: Flag, _ credits: DispatchSemaphore) {
        abandoned.value.store(true, ordering: .releasing)
        for _ in 0...creditCount { credits.signal() }
    }
}
