import Synchronization

/// At most one `allow` in flight per sandbox: the others wait their turn, in order, holding no
/// thread (a continuation each). Waiters are bounded by the resolver's query admission (64 per
/// sandbox, 1,024 in all), so the gate needs no bound of its own. A key's entry goes when its
/// last holder leaves.
final class DNSLearnGate: Sendable {
    /// Present: one holder runs; the array holds who waits after it.
    private let waiting = Mutex<[String: [CheckedContinuation<Void, Never>]]>([:])

    /// Runs `body` once no other `run` for `key` is in progress.
    func run<T>(_ key: String, _ body: () async throws -> T) async rethrows -> T {
        await enter(key)
        defer { leave(key) }
        return try await body()
    }

    private func enter(_ key: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = waiting.withLock { waiting -> Bool in
                guard waiting[key] != nil else {
                    waiting[key] = []
                    return true
                }
                waiting[key]?.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Hands the turn to the longest waiter, if any.
    private func leave(_ key: String) {
        let next = waiting.withLock { waiting -> CheckedContinuation<Void, Never>? in
            guard var queue = waiting[key], !queue.isEmpty else {
                waiting[key] = nil
                return nil
            }
            let next = queue.removeFirst()
            waiting[key] = queue
            return next
        }
        next?.resume()
    }

    /// Keys with a holder now (tests).
    var busy: Int { waiting.withLock { $0.count } }
}
