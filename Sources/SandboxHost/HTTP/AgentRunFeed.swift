import NIOCore

/// What an agent run's stream writes next, after its cursor: the frames the hub's tail holds
/// when the next event is in it (no query, bytes shared with every other stream), else a bounded
/// batch from the database, framed here the same way (a stream that fell behind the tail, or a
/// run not live here). A stream behind the tail rejoins it once its batches reach it.
struct AgentRunFeed: Sendable {
    /// The run's stored events after a sequence: at most `limit`, up to `budget` characters
    /// (`AgentRunStore.events`).
    typealias Stored = @Sendable (_ after: Int, _ limit: Int, _ budget: Int) async throws -> [(sequence: Int, payload: String)]

    let runID: String
    let hub: AgentRunHub
    let stored: Stored
    /// Per read, from memory or the database: what one stream holds at a time.
    var limit = 256
    var budget = 256 << 10

    /// The frames after `cursor`, in order, and whether more may follow right away (read
    /// again before waiting). Empty and false: caught up with what is stored.
    func next(after cursor: Int) async throws -> (frames: [RunTail.Frame], more: Bool) {
        let live: Bool
        switch hub.read(runID, after: cursor, limit: limit, budget: budget) {
        case .tail(.frames(let frames, let more)):
            // Not more: caught up with the tail as it was; the next event wakes the stream.
            return (frames, more)
        case .tail(.caughtUp):
            return ([], false)
        case .tail(.behind):
            live = true
        case .notLive:
            live = false
        }
        let rows = try await stored(cursor, limit, budget)
        let frames = rows.map { RunTail.Frame(sequence: $0.sequence, bytes: ServerSentEvents.event(id: $0.sequence, json: $0.payload)) }
        let full = rows.count >= limit || rows.reduce(0) { $0 + $1.payload.utf8.count } >= budget
        // Behind a live run's tail: ask the tail again after this batch, it may hold the rest.
        return (frames, full || (live && !rows.isEmpty))
    }
}
