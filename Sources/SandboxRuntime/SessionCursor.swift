import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One reader's place in a session's log: the last sequence it was given, and the segment file
/// it reads (held open, so a rotation that deletes it does not cut the reader off mid-file).
///
/// `read` is blocking file I/O of at most about `budget` bytes: run it on a thread pool. A reader
/// that starts before what the log keeps, or falls behind a rotation, first gets one `truncated`
/// event numbered with the last sequence it missed. Memory is one batch, whatever the log's size
/// or the reader's speed.
public final class SessionCursor: Sendable {
    private let session: Session
    private let state: Mutex<State>

    private struct State {
        var after: Int
        var fd: Int32 = -1
        var generation = -1
        var offset = 0
    }

    public struct Batch: Sendable {
        public var events: [SessionEvent] = []
        /// Everything logged when the read began was read.
        public var caughtUp = false

        public init() {}
    }

    init(session: Session, after: Int) {
        self.session = session
        state = Mutex(State(after: after))
    }

    deinit {
        state.withLock { if $0.fd >= 0 { _ = close($0.fd) } }
    }

    /// The sequence of the last event read.
    public var position: Int { state.withLock { $0.after } }

    /// The next events, about `budget` bytes of them.
    public func read(budget: Int = 256 << 10) -> Batch {
        state.withLock { state in
            var batch = Batch()
            var bytes = 0
            while bytes < budget {
                if state.fd < 0 {
                    guard let opened = session.openSegment(after: state.after, following: nil) else {
                        batch.caughtUp = true
                        return batch
                    }
                    Self.enter(&state, opened, batch: &batch)
                }
                let (known, finished) = session.segmentEnd(state.generation)
                let end = known ?? SessionLogScanner.size(state.fd)
                if state.offset < end {
                    var last = state.after
                    let stop = SessionLogScanner.scan(state.fd, from: state.offset, to: end) { record in
                        guard record.sequence > last else { return true }
                        last = record.sequence
                        batch.events.append(record.event)
                        bytes += record.body.count + 64
                        return bytes < budget
                    }
                    state.after = last
                    // A malformed record ends the segment for this reader.
                    state.offset = stop.corrupt ? end : stop.offset
                    if state.offset < end { continue }
                }
                guard finished else {
                    batch.caughtUp = true
                    return batch
                }
                guard let next = session.openSegment(after: state.after, following: state.generation) else {
                    batch.caughtUp = true
                    return batch
                }
                Self.enter(&state, next, batch: &batch)
            }
            return batch
        }
    }

    private static func enter(_ state: inout State, _ segment: (fd: Int32, generation: Int, firstSequence: Int), batch: inout Batch) {
        if state.fd >= 0 { close(state.fd) }
        (state.fd, state.generation, state.offset) = (segment.fd, segment.generation, 0)
        if segment.firstSequence > state.after + 1 {
            state.after = segment.firstSequence - 1
            batch.events.append(SessionEvent(sequence: state.after, type: .truncated, command_id: "", timestamp: Timestamp.milliseconds()))
        }
    }
}
