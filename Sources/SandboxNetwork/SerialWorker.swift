import Foundation
import Synchronization

/// One thread of its own that runs blocking jobs one after another (the filter calls the
/// resolver's learning makes: they all wait for nftables' one lock anyway), with a bounded
/// backlog: a job past `backlog` waiting is refused at once (the resolver then answers SERVFAIL)
/// rather than queued or given a thread. Callers wait on a continuation, holding no thread.
/// The thread starts with the first job and ends after `idle` with nothing to do (or at `stop`),
/// so an unused worker costs nothing; the next job starts it again.
final class SerialWorker: Sendable {
    let name: String
    let backlog: Int
    let idle: TimeInterval

    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var running = false
        var stopped = false
        var peakBacklog = 0
        var threadsStarted = 0
    }

    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)

    init(name: String, backlog: Int = 256, idle: TimeInterval = 30) {
        self.name = name
        self.backlog = backlog
        self.idle = idle
    }

    /// Runs `body` on the worker's thread after the jobs before it. Throws `NetworkError` when
    /// `backlog` jobs already wait, or the worker is stopped.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job: @Sendable () -> Void = { continuation.resume(with: Result { try body() }) }
            let admitted = state.withLock { state -> (ok: Bool, start: Bool) in
                guard !state.stopped, state.jobs.count < backlog else { return (false, false) }
                state.jobs.append(job)
                state.peakBacklog = max(state.peakBacklog, state.jobs.count)
                guard !state.running else { return (true, false) }
                state.running = true
                state.threadsStarted += 1
                return (true, true)
            }
            guard admitted.ok else {
                continuation.resume(throwing: NetworkError("\(name): \(backlog) jobs already wait; refused"))
                return
            }
            if admitted.start {
                let thread = Thread { [self] in loop() }
                thread.name = name
                thread.start()
            }
            wake.signal()
        }
    }

    /// Jobs not started yet still run; later ones are refused; the thread ends when idle.
    func stop() {
        state.withLock { $0.stopped = true }
        wake.signal()
    }

    /// The most jobs ever waiting at once, and how many times the thread was started (tests).
    var peakBacklog: Int { state.withLock { $0.peakBacklog } }
    var threadsStarted: Int { state.withLock { $0.threadsStarted } }

    private func loop() {
        while true {
            let timedOut = wake.wait(timeout: .now() + idle) == .timedOut
            while true {
                let job = state.withLock { state -> (@Sendable () -> Void)? in
                    state.jobs.isEmpty ? nil : state.jobs.removeFirst()
                }
                guard let job else { break }
                job()
            }
            // Decided under the lock `run` admits under: a job added after this sees
            // `running` false and starts a thread of its own.
            let ends = state.withLock { state -> Bool in
                guard state.jobs.isEmpty, timedOut || state.stopped else { return false }
                state.running = false
                return true
            }
            if ends { return }
        }
    }
}
