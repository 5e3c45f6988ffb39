import NIOCore

/// Live runs' events, fanned out to every stream that follows them.
///
/// A run is open from its start until its final event; while open, its events are kept here
/// too, so a stream that joins takes the backlog and the live feed in one step (nothing missed,
/// nothing twice). A closed run's events are read from the database instead. Each event is
/// encoded as its SSE frame once and the same bytes go to every stream.
actor AgentRunHub {
    struct Item: Sendable {
        let sequence: Int
        let frame: ByteBuffer
    }

    /// What a following stream receives: an event, or a heartbeat from its own timer.
    enum Delivery: Sendable {
        case event(Item)
        case ping
    }

    private struct Live {
        var events: [Item] = []
        var watchers: [Int: AsyncStream<Delivery>.Continuation] = [:]
    }

    private var runs: [String: Live] = [:]
    private var nextWatcher = 0

    func open(_ runID: String) { runs[runID] = Live() }

    func publish(_ runID: String, sequence: Int, payload: String) {
        guard runs[runID] != nil else { return }
        let item = Item(sequence: sequence, frame: ServerSentEvents.event(id: sequence, json: payload))
        runs[runID]?.events.append(item)
        for watcher in runs[runID]?.watchers.values ?? [:].values { watcher.yield(.event(item)) }
    }

    /// Ends every stream of the run; later watchers read the database.
    func close(_ runID: String) {
        guard let live = runs.removeValue(forKey: runID) else { return }
        for watcher in live.watchers.values { watcher.finish() }
    }

    /// The events after `sequence`, with `continuation` registered for the live ones; nil when
    /// the run is not open.
    func watch(_ runID: String, after sequence: Int, continuation: AsyncStream<Delivery>.Continuation) -> (id: Int, backlog: [Item])? {
        guard let live = runs[runID] else { return nil }
        nextWatcher += 1
        runs[runID]?.watchers[nextWatcher] = continuation
        return (nextWatcher, live.events.filter { $0.sequence > sequence })
    }

    func unwatch(_ runID: String, id: Int) {
        runs[runID]?.watchers.removeValue(forKey: id)?.finish()
    }

    var openRuns: Int { runs.count }
}
