import Synchronization

/// Scrapes that arrive while one is being made wait for it and share its answer: however many
/// clients scrape at once (`/metrics` may be public, and has no rate limit of a key then), one
/// set of database and cgroup reads runs at a time. Nothing is kept once it is answered.
final class SharedScrape: Sendable {
    private let current = Mutex<Task<[UInt8], any Error>?>(nil)

    func value(_ make: @escaping @Sendable () async throws -> [UInt8]) async throws -> [UInt8] {
        let task = current.withLock { current -> Task<[UInt8], any Error> in
            if let running = current { return running }
            // Its own clearing waits for this lock, so it always finds itself there.
            let task = Task {
                defer { self.current.withLock { $0 = nil } }
                return try await make()
            }
            current = task
            return task
        }
        return try await task.value
    }
}
