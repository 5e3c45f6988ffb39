import Synchronization

/// The runs live in this process and the streams following them. It holds no events: a
/// stream reads a run's events from the database after its own last sequence; the hub only
/// wakes it after each event is stored, and once more when the run's final event is.
///
/// Thread-safe and never waits: the recorder's `published` costs the same whether streams
/// keep up, lag or stall, and a stream's memory does not grow with the run's events.
final class AgentRunHub: Sendable {
    /// Called after each event stored, and with `closed` once after the run's final one. Runs
    /// under the hub's lock: it must only signal.
    typealias Wake = @Sendable (_ closed: Bool) -> Void

    private struct State {
        var runs: [String: [Int: Wake]] = [:]
        var nextWatcher = 0
    }

    private let state = Mutex(State())

    /// The run is starting here: its streams follow it live until `close`.
    func open(_ runID: String) {
        state.withLock { $0.runs[runID] = [:] }
    }

    /// An event of the run was stored.
    func published(_ runID: String) {
        state.withLock { state in
            for wake in state.runs[runID]?.values ?? [:].values { wake(false) }
        }
    }

    /// The run's final event was stored: its streams read to the end and finish.
    func close(_ runID: String) {
        state.withLock { state in
            for wake in state.runs.removeValue(forKey: runID)?.values ?? [:].values { wake(true) }
        }
    }

    /// Whether the run is live here (open, not yet closed).
    func isOpen(_ runID: String) -> Bool {
        state.withLock { $0.runs[runID] != nil }
    }

    /// Registers `wake` for the run's next events; nil when the run is not live here (finished,
    /// or from before a restart: everything is in the database).
    func watch(_ runID: String, wake: @escaping Wake) -> Int? {
        state.withLock { state in
            guard state.runs[runID] != nil else { return nil }
            state.nextWatcher += 1
            state.runs[runID]?[state.nextWatcher] = wake
            return state.nextWatcher
        }
    }

    func unwatch(_ runID: String, id: Int) {
        _ = state.withLock { $0.runs[runID]?.removeValue(forKey: id) }
    }
}
