import AsyncAlgorithms
import Hummingbird
import Synchronization

/// The one way a live stream is written — a session's output, a dev server's, an agent run's
/// events: the follower holds a cursor into what is persisted (the session's log, the run's rows
/// in SQLite) and a `WakeSignal`, never a queue of events.
///
/// It catches up from the cursor in bounded batches, each written before the next is read (so a
/// client that reads slowly, or not at all, holds one batch of the host's memory however far
/// behind it falls), then waits for a wake-up: new data, the end, a heartbeat (`ping`, from
/// `configuration.heartbeat`, from one `Heartbeat` ticker shared by every stream) or, for dev
/// servers, a poll (the stream's own `AsyncTimerSequence`, merged with its signal by
/// swift-async-algorithms' `merge`), here only.
struct LiveStream {
    /// What wakes the writer; none carries an event.
    enum Wake: Sendable, Equatable {
        /// Something was persisted since the last read.
        case data
        /// Nothing more will be: one last read, then the stream ends.
        case closed
        /// Time for a heartbeat.
        case beat
        /// Time for `poll`.
        case poll
    }

    let signal: WakeSignal
    let heartbeat: Duration
    /// How often `poll` runs while it asks to go on; nil: never.
    var pollEvery: Duration?

    /// Runs the stream until what it follows ends or `catchUp` ends it.
    ///
    /// - `live` is asked before each catch-up: once it answers false, that catch-up is the last
    ///   (it reads what was persisted up to the end).
    /// - `catchUp` reads and writes everything after the cursor, batch by batch, until caught
    ///   up; it answers false when it wrote the stream's last event (the stream ends there).
    /// - `poll` runs on each poll tick; it answers false to stop polling.
    ///
    /// Answers false when `catchUp` ended the stream, true when what it follows did.
    @discardableResult
    func run(
        _ writer: inout any ResponseBodyWriter,
        live: () -> Bool,
        catchUp: (inout any ResponseBodyWriter) async throws -> Bool,
        poll: (inout any ResponseBodyWriter) async throws -> Bool = { _ in false }
    ) async throws -> Bool {
        // Heartbeats come from one ticker per interval shared by every stream (a timer and a
        // merge per follower cost 1,000 followers of one agent run a third of the host's CPU);
        // polls (dev servers only) are this stream's own timer, merged with its signal.
        let beating = Heartbeat.shared(every: heartbeat).add(signal)
        defer { Heartbeat.shared(every: heartbeat).remove(beating) }
        guard let pollEvery else {
            var wakes = signal.wakes.makeAsyncIterator()
            return try await follow(&wakes, &writer, live: live, catchUp: catchUp, poll: { _ in false }, polling: PollSwitch(on: false))
        }
        let polling = PollSwitch(on: true)
        let polls = AsyncTimerSequence(interval: pollEvery, clock: ContinuousClock())
            .prefix { _ in polling.isOn }
            .map { _ in Wake.poll }
        var wakes = merge(signal.wakes, polls).makeAsyncIterator()
        return try await follow(&wakes, &writer, live: live, catchUp: catchUp, poll: poll, polling: polling)
    }

    private func follow<Wakes: AsyncIteratorProtocol>(
        _ wakes: inout Wakes,
        _ writer: inout any ResponseBodyWriter,
        live: () -> Bool,
        catchUp: (inout any ResponseBodyWriter) async throws -> Bool,
        poll: (inout any ResponseBodyWriter) async throws -> Bool,
        polling: PollSwitch
    ) async throws -> Bool where Wakes.Element == Wake {
        var open = true
        while true {
            // Noted before reading: once it is false, what the read finds is all there is.
            let more = open && live()
            guard try await catchUp(&writer) else { return false }
            guard more else { return true }
            waiting: while true {
                switch try await wakes.next() {
                case .data?:
                    break waiting
                case .closed?, nil:
                    open = false
                    break waiting
                case .beat?:
                    // The signal keeps one pending wake-up: a beat may have taken a `data`'s
                    // place, so it reads too (a read that finds nothing costs little).
                    try await writer.write(ServerSentEvents.ping)
                    break waiting
                case .poll?:
                    if try await !poll(&writer) { polling.turnOff() }
                }
            }
        }
    }
}

/// Whether the poll timer goes on; the timer ends at its next tick once turned off.
private final class PollSwitch: Sendable {
    private let on: Atomic<Bool>
    init(on: Bool) { self.on = Atomic(on) }
    var isOn: Bool { on.load(ordering: .relaxed) }
    func turnOff() { on.store(false, ordering: .relaxed) }
}
