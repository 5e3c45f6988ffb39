import CNftables
import Glibc

/// Runs a short, blocking piece of work with the calling thread inside another network namespace,
/// then brings the thread back (setns(CLONE_NEWNET) changes the calling thread only, so this is
/// safe in a multi-threaded process). Sockets made inside, and processes spawned inside, belong
/// to that namespace. Call it only on a thread of your own (never the cooperative pool): a
/// thread that could not come back would carry host work into the other namespace, so the
/// process aborts instead.
enum NetworkNamespaceEntry {
    /// `namespace`: an open nsfs file descriptor; nil runs `body` where the thread is.
    static func inside<T>(_ namespace: Int32?, _ body: () throws -> T) throws -> T {
        guard let namespace else { return try body() }
        let home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard home >= 0 else {
            throw NetworkError.system("open /proc/thread-self/ns/net", errno)
        }
        defer { close(home) }
        guard setns(namespace, CNFT_CLONE_NEWNET) == 0 else {
            throw NetworkError.system("setns into the filter's network namespace", errno)
        }
        defer { if setns(home, CNFT_CLONE_NEWNET) != 0 { abort() } }
        return try body()
    }
}
