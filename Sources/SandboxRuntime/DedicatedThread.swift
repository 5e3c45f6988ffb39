import Foundation

/// Runs blocking work whose length a tenant decides (removing or re-owning the tree it wrote) on
/// a thread of its own: not on the cooperative pool, and not on the shared 2-thread
/// `NIOThreadPool` that every SQLite query waits for. One thread per call; callers are bounded
/// by the requests that cause them (a delete, a sandbox start).
public enum DedicatedThread {
    public static func run<T: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.name = name
            thread.start()
        }
    }
}
