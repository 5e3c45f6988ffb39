import NIOPosix

/// The threads that read session logs for streams and `status`: their own, so readers (which a
/// tenant can open many of) never queue ahead of SQLite on the shared pool. Each job is bounded:
/// one batch of a cursor, or one pass over a capped log.
public enum SessionReaders {
    public static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        return pool
    }()
}
