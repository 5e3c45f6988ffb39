import Foundation
import NIOCore
import Synchronization
import Testing
@testable import SandboxHost

/// The hub's shared tail of a live run's events: bounded in events and bytes whatever its
/// streams do, and a stream reading after its cursor gets each event once whether it comes from
/// the tail or (behind it) from the run's rows in a real SQLite file.
struct AgentRunTailTests {
    static func frame(_ sequence: Int, size: Int = 100) -> RunTail.Frame {
        RunTail.Frame(sequence: sequence, bytes: ByteBuffer(repeating: UInt8(ascii: "x"), count: size))
    }

    static func sequences(_ read: RunTail.Read) -> [Int]? {
        if case .frames(let frames, _) = read { return frames.map(\.sequence) }
        return nil
    }

    /// A run in a fresh database, with its recorder and the hub it publishes to.
    final class Run: Sendable {
        let directory: String
        let store: AgentRunStore
        let hub: AgentRunHub
        let recorder: RunRecorder
        let runID: String
        /// Queries the feed made to the database.
        let queries = Atomic<Int>(0)

        init(tailEvents: Int) async throws {
            directory = try TemporaryDirectory.make()
            let database = try Database(path: directory + "/db.sqlite3")
            let user = try database.runBlocking { try UserStore.createUser(named: "alice", in: $0) }
            let project = try await ProjectStore(database: database).create(userID: user.id, name: "p", description: nil, image: "default")
            let threads = ThreadStore(database: database)
            let thread = try #require(try await threads.create(projectID: project.id, userID: user.id))
            store = AgentRunStore(database: database)
            guard case .started(let run) = try await store.start(threadID: thread.id, model: "m", maxSteps: 1, userMessage: "go") else {
                throw CancellationError()
            }
            runID = run.id
            hub = AgentRunHub(frame: { ServerSentEvents.event(id: $0, json: $1) }, tailEvents: tailEvents)
            hub.open(run.id)
            recorder = RunRecorder(runID: run.id, threadID: thread.id, store: store, threads: threads, hub: hub)
        }

        func feed(limit: Int) -> AgentRunFeed {
            var feed = AgentRunFeed(runID: runID, hub: hub) { [self] after, limit, budget in
                queries.add(1, ordering: .relaxed)
                return try await store.events(runID: runID, after: after, limit: limit, budget: budget)
            }
            feed.limit = limit
            return feed
        }

        /// What a stream does on a wake-up: reads until caught up; answers the frames.
        func catchUp(_ feed: AgentRunFeed, cursor: inout Int) async throws -> [RunTail.Frame] {
            var got: [RunTail.Frame] = []
            while true {
                let (frames, more) = try await feed.next(after: cursor)
                #expect(frames.count <= feed.limit)
                got += frames
                cursor = frames.last?.sequence ?? cursor
                if !more { return got }
            }
        }

        func emit(_ count: Int) async throws {
            for _ in 0..<count { try await recorder.emit(.content("x", messageID: "m")) }
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }
    }

    @Test func theTailHoldsAtMost512EventsAnd1MiBAndNothingLargerThanThat() {
        var tail = RunTail()
        for sequence in 1...2000 { tail.append(Self.frame(sequence)) }
        #expect(tail.count == RunTail.maxEvents && tail.first == 2000 - 511 && tail.last == 2000)
        #expect(tail.bytes == 512 * 100)
        if case .behind = tail.read(after: 1000, limit: 256, budget: 1 << 20) {} else { Issue.record("a cursor before the tail must read the database") }
        #expect(Self.sequences(tail.read(after: 1488, limit: 3, budget: 1 << 20)) == [1489, 1490, 1491])
        #expect(Self.sequences(tail.read(after: 1995, limit: 256, budget: 250)) == [1996, 1997, 1998], "up to the budget, the first past it included")
        if case .caughtUp = tail.read(after: 2000, limit: 256, budget: 1 << 20) {} else { Issue.record("nothing after the last") }

        var large = RunTail()
        for sequence in 1...40 { large.append(Self.frame(sequence, size: 64 << 10)) }
        #expect(large.count == 16 && large.bytes == RunTail.maxBytes && large.first == 25)
        // One event over the byte bound is not held; the tail restarts after it.
        large.append(Self.frame(41, size: 2 << 20))
        #expect(large.count == 0 && large.bytes == 0 && large.last == 41)
        if case .behind = large.read(after: 40, limit: 256, budget: 1 << 20) {} else { Issue.record("a dropped event comes from the database") }
        large.append(Self.frame(42))
        #expect(Self.sequences(large.read(after: 41, limit: 256, budget: 1 << 20)) == [42])
        // A gap (a sequence never published) empties it: it never holds a hole.
        large.append(Self.frame(44))
        #expect(large.count == 1 && large.first == 44)
        if case .behind = large.read(after: 42, limit: 256, budget: 1 << 20) {} else { Issue.record("the gap must be read from the database") }
        large.append(Self.frame(43))
        #expect(large.count == 1 && large.last == 44, "an event out of order is left to the database")
    }

    // Four times the tail's event bound, not more: the test body is synchronous, so it holds
    // one of the two cooperative threads that every other test of the process shares (20,000
    // events to 1,000 streams held one for seconds and starved the idle-sweep and dev-server tests).
    @Test func aRunsMemoryIsItsTailWhateverItsStreamsDo() throws {
        let hub = AgentRunHub(frame: { ServerSentEvents.event(id: $0, json: $1) })
        hub.open("r")
        // A thousand streams that never read.
        for _ in 0..<1000 { _ = hub.watch("r", wake: { _ in }) }
        let small = String(repeating: "y", count: 100)
        for sequence in 1...2_000 { hub.published("r", sequence: sequence, payload: small) }
        let events = try #require(hub.tailSize("r"))
        #expect(events.events == RunTail.maxEvents && events.bytes < RunTail.maxBytes, "small frames: the event bound wins")
        // Frames of ~4 KiB: the byte bound wins.
        let large = String(repeating: "y", count: 4000)
        for sequence in 2_001...3_000 { hub.published("r", sequence: sequence, payload: large) }
        let bytes = try #require(hub.tailSize("r"))
        #expect(bytes.events < RunTail.maxEvents && bytes.bytes <= RunTail.maxBytes && bytes.bytes > RunTail.maxBytes - 4100)
    }

    @Test func aStreamGetsEachEventOnceAcrossTheTailAndTheDatabase() async throws {
        let run = try await Run(tailEvents: 8)
        defer { run.remove() }
        let feed = run.feed(limit: 5)
        var cursor = 0
        var got: [RunTail.Frame] = []

        // Behind the tail (it holds 23...30): database batches of 5, then the tail.
        try await run.emit(30)
        got += try await run.catchUp(feed, cursor: &cursor)
        #expect(got.map(\.sequence) == Array(1...30))
        #expect(run.queries.load(ordering: .relaxed) == 5, "batches after 0, 5, 10, 15, 20; then 26...30 from memory")

        // Keeping up: from memory only.
        let before = run.queries.load(ordering: .relaxed)
        for _ in 0..<20 {
            try await run.emit(3)
            got += try await run.catchUp(feed, cursor: &cursor)
        }
        #expect(run.queries.load(ordering: .relaxed) == before, "a stream inside the tail makes no query")

        // Falling behind by more than the tail now and then, in between keeping up.
        for round in 0..<60 {
            try await run.emit([0, 1, 7, 8, 9, 13, 2][round % 7])
            got += try await run.catchUp(feed, cursor: &cursor)
        }
        try await run.recorder.emit(.status("completed", message: nil))
        run.hub.close(run.runID)
        got += try await run.catchUp(feed, cursor: &cursor)

        let stored = try await run.store.events(runID: run.runID, after: 0, limit: 10_000, budget: 1 << 30)
        #expect(got.map(\.sequence) == stored.map(\.sequence), "each stored event once, in order")
        #expect(got.map(\.sequence) == Array(1...stored.count))
        #expect(got.map(\.bytes) == stored.map { ServerSentEvents.event(id: $0.sequence, json: $0.payload) }, "the same bytes from either place")
        #expect(stored.last?.payload.contains("completed") == true)
    }

    @Test func anEventIsReadOnlyOnceStoredAndPublishedAndATailNotStartingAtTheCursorIsNotUsed() async throws {
        let run = try await Run(tailEvents: 8)
        defer { run.remove() }
        let feed = run.feed(limit: 256)
        var cursor = 0
        try await run.emit(3)
        #expect(try await run.catchUp(feed, cursor: &cursor).map(\.sequence) == [1, 2, 3])

        // Stored but not yet published (the recorder between its two steps): the stream waits
        // for the wake-up rather than reading past what the tail says.
        try await run.store.appendEvent(runID: run.runID, sequence: 4, payload: #"{"sequence":4}"#)
        #expect(try await run.catchUp(feed, cursor: &cursor).isEmpty)
        run.hub.published(run.runID, sequence: 4, payload: #"{"sequence":4}"#)
        #expect(try await run.catchUp(feed, cursor: &cursor).map(\.sequence) == [4])

        // 5 and 6 stored, only 6 published: the tail restarts at 6, so 5 comes from the database.
        for sequence in 5...6 { try await run.store.appendEvent(runID: run.runID, sequence: sequence, payload: "{\"sequence\":\(sequence)}") }
        run.hub.published(run.runID, sequence: 6, payload: #"{"sequence":6}"#)
        let queries = run.queries.load(ordering: .relaxed)
        #expect(try await run.catchUp(feed, cursor: &cursor).map(\.sequence) == [5, 6])
        #expect(run.queries.load(ordering: .relaxed) == queries + 1)
    }

    @Test func aClosedRunsTailStaysWhileStreamsReadItAndGoesWithTheLast() throws {
        let hub = AgentRunHub(frame: { ServerSentEvents.event(id: $0, json: $1) })
        hub.open("r")
        let closed = Atomic<Int>(0)
        let watch = hub.watch("r", wake: { if $0 { closed.add(1, ordering: .relaxed) } })
        hub.published("r", sequence: 1, payload: "{}")
        hub.close("r")
        #expect(closed.load(ordering: .relaxed) == 1)
        #expect(!hub.isOpen("r") && hub.watch("r", wake: { _ in }) == nil, "a stream that comes now reads the database")
        if case .tail(.frames(let frames, _)) = hub.read("r", after: 0, limit: 256, budget: 1 << 20) {
            #expect(frames.map(\.sequence) == [1])
        } else {
            Issue.record("the watching stream still reads the tail")
        }
        hub.published("r", sequence: 2, payload: "{}")
        #expect(hub.tailSize("r")?.events == 1, "nothing is published after the close")
        hub.unwatch("r", id: try #require(watch))
        #expect(hub.runCount == 0)
        if case .notLive = hub.read("r", after: 0, limit: 256, budget: 1 << 20) {} else { Issue.record("gone with its last stream") }

        hub.open("s")
        hub.close("s")
        #expect(hub.runCount == 0, "closed without streams: gone at once")
    }
}
