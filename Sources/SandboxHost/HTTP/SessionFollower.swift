import Foundation
import SandboxRuntime

/// A stream's hold on a session: a cursor into its log and a `WakeSignal` the session pokes
/// after each write (and once when it closes). It holds no events: a reader that does not keep
/// up costs no memory, and the session's writer never waits for it.
final class SessionFollower: Sendable {
    let cursor: SessionCursor
    let signal = WakeSignal()
    private let session: Session
    private let watch: UUID

    init(session: Session, after: Int) {
        self.session = session
        // Watching before the cursor's first read: nothing appended after it goes unnoticed.
        watch = session.watch(signal.notify)
        cursor = session.cursor(after: after)
    }

    /// Reads the next batch on the session readers' pool (file I/O, off the cooperative threads).
    func read() async throws -> SessionCursor.Batch {
        let cursor = self.cursor
        return try await SessionReaders.pool.runIfActive { cursor.read() }
    }

    func stop() { session.unwatch(watch) }
}
