import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import SandboxHost
@testable import SandboxRuntime

@Suite struct DatabaseTests {
    @Test func opensWithWALForeignKeysAndEveryMigration() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try Database(path: directory + "/db.sqlite3")
        try database.runBlocking { connection in
            #expect(try connection.query("PRAGMA journal_mode").first?.text("journal_mode") == "wal")
            #expect(try connection.query("PRAGMA foreign_keys").first?.integer("foreign_keys") == 1)
            #expect(try connection.query("PRAGMA synchronous").first?.integer("synchronous") == 2)
            #expect(try connection.query("PRAGMA user_version").first?.integer("user_version") == Int64(Migrations.all.count))
            let tables = try connection.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").map { try $0.text("name") }
            for table in ["api_keys", "messages", "projects", "threads", "users"] {
                #expect(tables.contains(table))
            }
        }
    }

    @Test func reopeningKeepsDataAndDoesNotReapplyMigrations() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/db.sqlite3"
        let first = try Database(path: path)
        let user = try first.runBlocking { try UserStore.createUser(named: "alice", in: $0) }
        first.close()
        let second = try Database(path: path)
        let found = try second.runBlocking { try UserStore.user(named: "alice", in: $0) }
        #expect(found == user)
    }

    @Test func foreignKeysRefuseOrphansAndATransactionRollsBackWhole() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try Database(path: directory + "/db.sqlite3")
        #expect(throws: HostError.self) {
            try database.runBlocking { connection in
                try connection.run(
                    "INSERT INTO threads (id, project_id, created_at) VALUES ('t', 'no-such-project', 'now')")
            }
        }
        #expect(throws: HostError.self) {
            try database.runBlocking { connection in
                try connection.transaction {
                    _ = try UserStore.createUser(named: "carol", in: connection)
                    _ = try UserStore.createUser(named: "carol", in: connection)
                }
            }
        }
        let count = try database.runBlocking { try UserStore.userCount(in: $0) }
        #expect(count == 0)
    }

    @Test func parametersAreBoundNeverSpliced() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try Database(path: directory + "/db.sqlite3")
        let hostile = "x'); DROP TABLE users; --"
        let user = try database.runBlocking { try UserStore.createUser(named: hostile, in: $0) }
        #expect(user.name == hostile)
        #expect(try database.runBlocking { try UserStore.user(named: hostile, in: $0) } == user)
    }

    /// Columns are found by name: the same row read through two column orders gives the same
    /// fields, and a name the statement lacks is an error, never another column's value.
    @Test func rowsAreReadByColumnNameWhateverTheOrder() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try Database(path: directory + "/db.sqlite3")
        defer { database.close() }
        let user = try database.runBlocking { try UserStore.createUser(named: "dora", in: $0) }
        for columns in ["id, name, created_at", "created_at, name, id", "u.created_at, u.id, u.name"] {
            let row = try #require(try database.runBlocking { try $0.query("SELECT \(columns) FROM users u") }.first)
            #expect(User(id: try row.text("id"), name: try row.text("name"), createdAt: try row.text("created_at")) == user)
            #expect(throws: HostError.self) { try row.text("user_id") }
        }
    }

    @Test func concurrentCallsFromManyTasksAllLand() async throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try Database(path: directory + "/db.sqlite3")
        let user = try database.runBlocking { try UserStore.createUser(named: "owner", in: $0) }
        let projects = ProjectStore(database: database)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask { _ = try await projects.create(userID: user.id, name: "p\(index)", description: nil, image: "default") }
            }
            try await group.waitForAll()
        }
        #expect(try await projects.list(userID: user.id).count == 200)
    }

    @Test func timestampsAreISO8601UTCWithMilliseconds() {
        #expect(Timestamp.iso8601(milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.iso8601(milliseconds: 1_795_398_789_527) == "2026-11-23T01:53:09.527Z")
    }

    @Test func identifiersAreRandomUUIDs() {
        let ids = (0..<1000).map { _ in Identifier.uuid() }
        #expect(Set(ids).count == 1000)
        let pattern = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
        #expect(ids.allSatisfy { $0.wholeMatch(of: pattern) != nil })
    }

    /// Queries run on the database's own thread: file work that fills the shared thread pool
    /// (tenants choose its size: extractions, deletes, trees) does not hold them up.
    @Test func queriesAnswerWhileTheSharedThreadPoolIsBusy() async throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try Database(path: directory + "/db.sqlite3")
        defer { database.close() }
        let started = Locked(0), ended = Locked(0)
        let busy = (0..<System.coreCount * 2).map { _ in
            Task {
                try await NIOThreadPool.singleton.runIfActive {
                    started.mutate { $0 += 1 }
                    usleep(3_000_000)
                    ended.mutate { $0 += 1 }
                }
            }
        }
        defer { busy.forEach { $0.cancel() } }
        // Every thread of the pool busy, the other blocks queued behind them.
        let threads = min(NIOSingletons.blockingPoolThreadCountSuggestion, busy.count)
        try await waitUntil("the shared pool's threads to be busy", timeout: .seconds(60), every: .milliseconds(5)) { started.value >= threads }
        let one = try await database.run { try $0.query("SELECT 1 AS one").first?.integer("one") }
        #expect(one == 1)
        // Answered while every pool thread was still in its 3 s block: had the query needed one,
        // a block would have ended first. (A count, not a clock: a loaded machine slows both.)
        #expect(ended.value == 0, "the query waited for the shared pool")
        for task in busy { _ = try? await task.value }
    }
}
