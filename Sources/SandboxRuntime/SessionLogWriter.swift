import Foundation
import Synchronization

/// Writes every session's log records on a thread of its own, so output read on the poller
/// thread does not wait for the disk. The queue is bounded in bytes: when the disk falls that far
/// behind, `reserve` waits (and with it the poller, and the commands writing output), so memory
/// stays bounded whatever the disk's speed: the limit plus one pipe read per thread that got in.
final class SessionLogWriter: Sendable {
    static let shared = SessionLogWriter(limit: 4 << 20)

    struct Job: Sendable {
        let session: Session
        let record: SessionRecord
    }

    private struct State {
        var jobs: [Job] = []
        var bytes = 0
        var waiting = 0
        var started = false
        var busy = false
    }

    private let limit: Int
    private let state = Mutex(State())
    private let work = DispatchSemaphore(value: 0)
    private let space = DispatchSemaphore(value: 0)

    init(limit: Int) { self.limit = limit }

    /// Waits while the queue holds `limit` bytes or more: called before taking a session's lock,
    /// so the wait never holds up the writer (which takes that lock to publish).
    func reserve() {
        while true {
            let (room, start) = state.withLock { state -> (Bool, Bool) in
                let start = !state.started
                state.started = true
                guard state.bytes < limit else {
                    state.waiting += 1
                    return (false, start)
                }
                return (true, start)
            }
            if start {
                let thread = Thread { [self] in run() }
                thread.name = "session-log-writer"
                thread.start()
            }
            if room { return }
            space.wait()
        }
    }

    /// Queues a record, without waiting (its session's lock is held; `reserve` waited before).
    func push(_ job: Job) {
        state.withLock { state in
            state.jobs.append(job)
            state.bytes += job.record.body.count + SessionRecord.overhead
        }
        work.signal()
    }

    /// Waits until everything queued so far is written and visible to readers (tests).
    func drain() {
        while state.withLock({ !$0.jobs.isEmpty || $0.busy }) { usleep(1_000) }
    }

    private func run() {
        while true {
            work.wait()
            let jobs = state.withLock { state in
                defer { state.jobs.removeAll(keepingCapacity: true) }
                state.busy = !state.jobs.isEmpty
                return state.jobs
            }
            guard !jobs.isEmpty else { continue }
            // One write per session per batch, in queue order.
            var start = 0
            while start < jobs.count {
                let session = jobs[start].session
                var end = start + 1
                while end < jobs.count, jobs[end].session === session { end += 1 }
                session.write(jobs[start..<end].map(\.record))
                start = end
            }
            let waiting = state.withLock { state in
                state.bytes -= jobs.reduce(0) { $0 + $1.record.body.count + SessionRecord.overhead }
                state.busy = false
                defer { state.waiting = 0 }
                return state.waiting
            }
            for _ in 0..<waiting { space.signal() }
        }
    }
}
