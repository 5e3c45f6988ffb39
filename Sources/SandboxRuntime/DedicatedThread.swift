import Foundation
import Synchronization

/// Runs blocking work whose length a tenant decides (removing or re-owning the tree it wrote,
/// starting a sandbox on its volume, a file write to a slow disk) on a thread of its own: not
/// on the cooperative pool, and not on the shared 2-thread `NIOThreadPool` that every SQLite
/// query waits for. One thread per call, never queued behind another call's work.
///
/// At most `maxThreads` run at once; a call past that waits (asynchronously, holding no thread)
/// for one to end. Calls are bounded by the requests that cause them, but requests by the
/// connection limit only: without this cap, uploads held on a slow disk could make threads
/// until the kernel refused one, and a refused thread ends the process.
public enum DedicatedThread {
    public static let maxThreads = 256

    private struct Slots {
        var running = 0
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private static let slots = Mutex(Slots())

    public static func run<T: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        await acquire()
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                let result = Result { try body() }
                release()
                continuation.resume(with: result)
            }
            thread.name = name
            thread.start()
        }
    }

    /// Threads running now (tests).
    public static var running: Int { slots.withLock { $0.running } }

    private static func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = slots.withLock { slots -> Bool in
                guard slots.running < maxThreads else {
                    slots.waiting.append(continuation)
                    return false
                }
                slots.running += 1
                return true
            }
            if granted { continuation.resume() }
        }
    }

    /// Hands the slot to the longest waiter, if any.
    private static func release() {
        let next = slots.withLock { slots -> CheckedContinuation<Void, Never>? in
            guard !slots.waiting.isEmpty else {
                slots.running -= 1
                return nil
            }
            return slots.waiting.removeFirst()
        }
        next?.resume()
    }
}
