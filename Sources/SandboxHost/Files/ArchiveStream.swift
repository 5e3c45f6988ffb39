import FileAPI
import Foundation
import Hummingbird
import Synchronization

/// Runs an `ArchiveWriter` on its own thread and hands its output to an HTTP response as it is
/// made. A few blocks may be in flight (credits); the writer waits for the client beyond that, so
/// memory stays flat. When the client goes away the writer's next block is refused and the walk stops.
enum ArchiveStream {
    static let creditCount = 8

    static func body(_ writer: ArchiveWriter) -> ResponseBody {
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
            do {
                for await block in stream {
                    try await output.write(block)
                    credits.signal()
                }
            } catch {
                abandon(abandoned, credits)
                throw error
            }
            abandon(abandoned, credits)
            try await output.finish(nil)
        }
    }

    private final class Flag: Sendable {
        let value = Atomic<Bool>(false)
    }

    private static func abandon(_ abandoned: Flag, _ credits: DispatchSemaphore) {
        abandoned.value.store(true, ordering: .releasing)
        for _ in 0...creditCount { credits.signal() }
    }
}
