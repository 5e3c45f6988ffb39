import Foundation
import SandboxRuntime

/// What wakes a stream that follows a session: new events, its heartbeat, or (dev servers) a
/// timer of its own. The wake-ups hold no events — the reader takes those from its cursor — and
/// at most a few are kept, so a reader that does not keep up costs no memory.
final class SessionFollower: Sendable {
    enum Wake: Sendable, Equatable { case data, beat, poll }

    let cursor: SessionCursor
    /// Finishes when the session closes.
    let wakes: AsyncStream<Wake>
    private let session: Session
    private let continuation: AsyncStream<Wake>.Continuation
    private let watch: UUID
    private let beat: Task<Void, Never>

    init(session: Session, after: Int, heartbeat: Duration) {
        self.session = session
        (wakes, continuation) = AsyncStream<Wake>.makeStream(bufferingPolicy: .bufferingNewest(4))
        let continuation = self.continuation
        // Watching before the cursor's first read: nothing appended after it goes unnoticed.
        watch = session.watch { closed in
            if closed { continuation.finish() } else { continuation.yield(.data) }
        }
        cursor = session.cursor(after: after)
        beat = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: heartbeat)
                continuation.yield(.beat)
            }
        }
    }

    func signal(_ wake: Wake) { continuation.yield(wake) }

    func stop() {
        beat.cancel()
        session.unwatch(watch)
        continuation.finish()
    }
}
