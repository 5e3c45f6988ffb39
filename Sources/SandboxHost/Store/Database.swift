import NIOPosix
import Synchronization

/// The host's SQLite database: one connection, used on a thread of its own (a serial executor:
/// one call at a time, in order), never on the cooperative pool, an event loop or the shared
/// thread pool.
///
/// Thread-safe. The connection lives inside a `Mutex`, so no call reaches it without holding
/// the lock; `run` holds it on the database's own thread, `runBlocking` (the CLI, the start) on
/// the caller's. SQLite with one writer gains nothing from more connections at this size. The
/// thread is the database's own because the shared `NIOThreadPool.singleton` (two threads here)
/// also runs file work whose size tenants choose (extractions, deletes, trees): two of those at
/// once would hold every key check and query of every tenant behind them.
public final class Database: Sendable {
    private let connection: Mutex<SQLiteConnection>
    /// One thread: the connection's serial executor.
    private let thread: NIOThreadPool

    /// Opens the file and applies every pending migration; the database's thread starts here
    /// and ends with `close()`.
    public init(path: String) throws {
        let connection = try SQLiteConnection(path: path)
        try Migrations.apply(to: connection)
        self.connection = Mutex(connection)
        thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
    }

    /// Runs `body` with the connection on the database's thread.
    public func run<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await thread.runIfActive {
            try self.connection.withLock { connection in try body(connection) }
        }
    }

    /// Runs `body` inside one transaction on the database's thread.
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

    /// Runs `body` synchronously on the calling thread: for the CLI, which has no event loop,
    /// and the host's start, before it serves.
    public func runBlocking<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try connection.withLock { connection in try body(connection) }
    }

    /// Checkpoints the WAL and closes the connection; later calls fail. For shutdown and tests.
    public func close() {
        connection.withLock { $0.close() }
        // Not awaited: `close` may itself run on that thread (a store's shutdown path).
        thread.shutdownGracefully { _ in }
    }
}
