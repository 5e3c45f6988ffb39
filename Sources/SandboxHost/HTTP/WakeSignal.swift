/// A bounded, coalescing wake-up from whatever persists a live stream's events (a session's
/// log writer, an agent run's recorder) to the stream that follows it.
///
/// It carries no events — the follower reads those from the log or the database after its own
/// cursor — and keeps at most one pending wake-up: any number of `notify` calls between two
/// reads cost the same, so a writer that outruns its reader costs it no memory, and a stalled
/// reader never blocks the writer (`notify` never waits). Thread-safe.
final class WakeSignal: Sendable {
    let wakes: AsyncStream<LiveStream.Wake>
    private let continuation: AsyncStream<LiveStream.Wake>.Continuation

    init() {
        // The newest is kept: `closed` replaces a pending `data` (it also means "read again").
        (wakes, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// What a source calls: after something new was persisted, or (`closed`) once nothing more
    /// will be. Only signals, so it may run under the source's lock.
    /// What the shared `Heartbeat` calls: time for a `ping` (and a read, in case this beat took
    /// the place of a pending `data`). Ignored once the signal is closed.
    func beat() {
        continuation.yield(.beat)
    }

    @Sendable func notify(closed: Bool) {
        if closed {
            continuation.yield(.closed)
            continuation.finish()
        } else {
            continuation.yield(.data)
        }
    }
}
