import Foundation
import Synchronization

/// Where file searches run: not on the shared thread pool that runs every SQLite query, but each
/// on a thread of its own, at most `threads` at once and `queue` more waiting their turn; a search
/// beyond those is refused (429). With each search's time budget, a tenant can keep at most these
/// threads busy, and nobody else's requests wait for them.
final class SearchPool: Sendable {
    private enum Admission { case run, refused }

    private struct State: ~Copyable {
        var running = 0
        var waiting: [CheckedContinuation<Admission, Never>] = []
    }

    private let state = Mutex(State())
    let threads: Int
    let queue: Int

    init(threads: Int, queue: Int) {
        self.threads = max(1, threads)
        self.queue = max(0, queue)
    }

    /// Runs `body` on a search thread once one is free.
    func run<T: Sendable>(_ body: @Sendable @escaping () throws -> T) async throws -> T {
        let admission: Admission = await withCheckedContinuation { continuation in
            let now: Admission? = state.withLock { state in
                if state.running < threads { state.running += 1; return .run }
                if state.waiting.count >= queue { return .refused }
                state.waiting.append(continuation)
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
        guard admission == .run else { throw HostError(.rateLimited, "too many file searches at once; try again shortly") }
        defer { release() }
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.name = "file-search"
            thread.start()
        }
    }

    /// A search ended: its place goes to the first waiting, else is freed.
    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Admission, Never>? in
            if !state.waiting.isEmpty { return state.waiting.removeFirst() }
            state.running -= 1
            return nil
        }
        next?.resume(returning: .run)
    }
}
