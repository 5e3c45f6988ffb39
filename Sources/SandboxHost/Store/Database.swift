import NIOPosix
import Synchronization

/// The host's SQLite database: one connection, used from a thread of its own, never the event
/// loop nor the shared thread pool.
///
/// Thread-safe. Each call takes the connection's lock on that thread, so calls are serialised;
/// SQLite with one writer gains nothing from more connections at this size. The thread is the
/// database's own because the shared `NIOThreadPool.singleton` (two threads here) also runs file
/// work whose size tenants choose (extractions, deletes, trees): two of those at once would hold
/// every key check and query of every tenant behind them.
public final class Database: Sendable {
    /// Guards `connection`: every use of it holds this lock.
    private let lock = Mutex(())
    private nonisolated(unsafe) let connection: SQLiteConnection
    private let threadPool: NIOThreadPool
    private let ownsThreadPool: Bool

    /// Opens the file and applies every pending migration. Without `threadPool`, the database
    /// runs on one thread of its own, ended by `close()`.
    public init(path: String, threadPool: NIOThreadPool? = nil) throws {
        let connection = try SQLiteConnection(path: path)
        try Migrations.apply(to: connection)
        self.connection = connection
        if let threadPool {
            self.threadPool = threadPool
            ownsThreadPool = false
        } else {
            self.threadPool = NIOThreadPool(numberOfThreads: 1)
            self.threadPool.start()
            ownsThreadPool = true
        }
    }

    /// Runs `body` with the connection on the thread pool.
    public func run<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await threadPool.runIfActive {
            try self.lock.withLock { _ in try body(self.connection) }
        }
    }

    /// Runs `body` inside one transaction on the thread pool.
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await run { connection in try connection.transaction { try body(connection) } }
    }

    /// Runs `body` with commits that do not wait for the disk (`synchronous = NORMAL` in WAL
    /// mode): what it writes survives the host being killed, not a power cut. For agent-run
    /// events, written by the dozen per second, where an fsync each would be the run's cost.
    public func runRelaxed<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await run { connection in
            try connection.exec("PRAGMA synchronous = NORMAL")
            defer { try? connection.exec("PRAGMA synchronous = FULL") }
            return try body(connection)
        }
    }

    /// Runs `body` synchronously on the calling thread: for the CLI, which has no event loop.
    public func runBlocking<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try lock.withLock { _ in try body(connection) }
    }

    /// Checkpoints the WAL and closes the connection; later calls fail. For shutdown and tests.
    public func close() {
        lock.withLock { _ in connection.close() }
        // Not awaited: `close` may itself run on that thread (a store's shutdown path).
        if ownsThreadPool { threadPool.shutdownGracefully { _ in } }
    }
}
