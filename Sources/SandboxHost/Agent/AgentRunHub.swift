/// Live runs' events, fanned out to every stream that follows them.
///
/// A run is open from its start until its final event; while open, its events are kept here
/// too, so a stream that joins takes the backlog and the live feed in one step (nothing missed,
/// nothing twice). A closed run's events are read from the database instead.
actor AgentRunHub {
    typealias Item = (sequence: Int, payload: String)

    private struct Live {
        var events: [Item] = []
        var watchers: [Int: AsyncStream<Item>.Continuation] = [:]
    }

    private var runs: [String: Live] = [:]
    private var nextWatcher = 0

    func open(_ runID: String) { runs[runID] = Live() }

    func publish(_ runID: String, _ item: Item) {
        runs[runID]?.events.append(item)
        for watcher in runs[runID]?.watchers.values ?? [:].values { watcher.yield(item) }
    }

    /// Ends every stream of the run; later watchers read the database.
    func close(_ runID: String) {
        guard let live = runs.removeValue(forKey: runID) else { return }
        for watcher in live.watchers.values { watcher.finish() }
    }

    /// The events after `sequence` and the live feed, or nil when the run is not open.
    func watch(_ runID: String, after sequence: Int) -> (id: Int, backlog: [Item], live: AsyncStream<Item>)? {
        guard let live = runs[runID] else { return nil }
        let (stream, continuation) = AsyncStream<Item>.makeStream()
        nextWatcher += 1
        runs[runID]?.watchers[nextWatcher] = continuation
        return (nextWatcher, live.events.filter { $0.sequence > sequence }, stream)
    }

    func unwatch(_ runID: String, id: Int) {
        runs[runID]?.watchers.removeValue(forKey: id)?.finish()
    }

    var openRuns: Int { runs.count }
}
