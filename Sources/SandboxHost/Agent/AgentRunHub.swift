import NIOCore
import Synchronization

/// The runs live in this process, the streams following them, and each run's recent events in
/// a bounded `RunTail` shared by all of its streams.
///
/// The recorder stores each event, then publishes it here: it is framed once (by `frame`, which
/// the HTTP layer's `ServerSentEvents` provides; opaque bytes here), appended to the run's tail
/// and every stream is woken. A stream whose cursor is inside the tail takes the frames from
/// memory (no query, no encoding); one that fell behind the tail, or follows a run not live here
/// (finished, or from before a restart), reads the database. Only stored events are ever in the
/// tail, so what a stream reads from either place is the same.
///
/// Thread-safe and never waits: `published` costs the same whether streams keep up, lag or
/// stall; a run's memory is its tail (`RunTail.maxEvents` / `RunTail.maxBytes`) whatever the
/// number or speed of its streams.
final class AgentRunHub: Sendable {
    /// Called after each event published, and with `closed` once after the run's final one.
    /// Runs under the hub's lock: it must only signal.
    typealias Wake = @Sendable (_ closed: Bool) -> Void
    /// An event's bytes as every stream writes them.
    typealias Frame = @Sendable (_ sequence: Int, _ payload: String) -> ByteBuffer

    /// What a stream at some cursor reads next.
    enum Read: Sendable {
        /// From the tail (see `RunTail.Read`).
        case tail(RunTail.Read)
        /// The run is not live here: everything is in the database.
        case notLive
    }

    private struct Run {
        var tail: RunTail
        var watchers: [Int: Wake] = [:]
        /// Its final event is published; it stays while streams still read its tail.
        var closed = false
    }

    private struct State {
        var runs: [String: Run] = [:]
        var nextWatcher = 0
    }

    private let state = Mutex(State())
    let frame: Frame
    let tailEvents: Int
    let tailBytes: Int

    init(frame: @escaping Frame, tailEvents: Int = RunTail.maxEvents, tailBytes: Int = RunTail.maxBytes) {
        self.frame = frame
        self.tailEvents = tailEvents
        self.tailBytes = tailBytes
    }

    /// The run is starting here: its streams follow it live until `close`.
    func open(_ runID: String) {
        let tail = RunTail(maxEvents: tailEvents, maxBytes: tailBytes)
        state.withLock { $0.runs[runID] = Run(tail: tail) }
    }

    /// An event of the run was stored: into the tail, and its streams woken.
    func published(_ runID: String, sequence: Int, payload: String) {
        // Framed before the lock: the streams only copy a reference to it.
        let item = RunTail.Frame(sequence: sequence, bytes: frame(sequence, payload))
        // Woken after the lock: every run's streams read through it, and a wake-up only signals.
        let wakes = state.withLock { state -> [Wake] in
            guard state.runs[runID]?.closed == false else { return [] }
            state.runs[runID]?.tail.append(item)
            return Array(state.runs[runID]?.watchers.values ?? [:].values)
        }
        for wake in wakes { wake(false) }
    }

    /// The run's final event was stored and published: its streams read to the end and finish.
    /// Its tail stays until the last of them stops watching.
    func close(_ runID: String) {
        state.withLock { state in
            guard let run = state.runs[runID], !run.closed else { return }
            if run.watchers.isEmpty {
                state.runs[runID] = nil
            } else {
                state.runs[runID]?.closed = true
            }
            for wake in run.watchers.values { wake(true) }
        }
    }

    /// Whether the run is live here (open, not yet closed).
    func isOpen(_ runID: String) -> Bool {
        state.withLock { $0.runs[runID].map { !$0.closed } ?? false }
    }

    /// Registers `wake` for the run's next events; nil when the run is not live here (finished,
    /// or from before a restart: everything is in the database).
    func watch(_ runID: String, wake: @escaping Wake) -> Int? {
        state.withLock { state in
            guard let run = state.runs[runID], !run.closed else { return nil }
            state.nextWatcher += 1
            state.runs[runID]?.watchers[state.nextWatcher] = wake
            return state.nextWatcher
        }
    }

    func unwatch(_ runID: String, id: Int) {
        state.withLock { state in
            guard state.runs[runID]?.watchers.removeValue(forKey: id) != nil else { return }
            if let run = state.runs[runID], run.closed, run.watchers.isEmpty { state.runs[runID] = nil }
        }
    }

    /// The events after `cursor` held in memory (at most `limit`, up to `budget` bytes: see
    /// `RunTail.read`), or where to read instead.
    func read(_ runID: String, after cursor: Int, limit: Int, budget: Int) -> Read {
        state.withLock { state in
            guard let run = state.runs[runID] else { return .notLive }
            return .tail(run.tail.read(after: cursor, limit: limit, budget: budget))
        }
    }

    /// How much the run's tail holds; nil when the run is not here.
    func tailSize(_ runID: String) -> (events: Int, bytes: Int)? {
        state.withLock { state in state.runs[runID].map { ($0.tail.count, $0.tail.bytes) } }
    }

    /// Runs held here (live, or closed with streams still reading).
    var runCount: Int { state.withLock { $0.runs.count } }
}
