import Foundation
import Synchronization

/// Writes every session's log records on a thread of its own, so output read on the poller
/// thread does not wait for the disk.
///
/// Nothing here ever waits for the disk but the writer's own thread: `push` only queues. The
/// queue is bounded by back-pressure on the producers instead: each session may have `share`
/// bytes queued; past that, `waitForRoom` keeps a callback and the producer (the poller reading
/// a command's pipe) stops reading that pipe until the writer has written the session's records
/// and calls it back, so the command blocks on its full pipe, not a host thread. A share per
/// session means one flooding session never holds up another's output being read and queued;
/// the writing itself is one thread for every session, so a disk that stops answering (a
/// stalled write) delays every session's records until it answers again. `limit` bounds the
/// queue in all (every session then waits, none blocks). Memory: `limit`, plus one pipe read
/// (64 KiB) per pipe that was being read when its session filled up, plus the small `command`
/// and `exit` records, which are never held back.
final class SessionLogWriter: Sendable {
    static let shared = SessionLogWriter(share: 1 << 20, limit: 32 << 20)

    struct Job: Sendable {
        let session: Session
        let record: SessionRecord
    }

    private struct State {
        var jobs: [Job] = []
        /// Bytes queued in all, and per session.
        var bytes = 0
        var queued: [ObjectIdentifier: Int] = [:]
        /// Producers waiting for room, per session; each called once.
        var waiting: [ObjectIdentifier: [@Sendable () -> Void]] = [:]
        var busy = false
    }

    /// Bytes one session may have queued before its producers wait.
    let share: Int
    /// Bytes all sessions together may have queued before every producer waits.
    let limit: Int
    private let state = Mutex(State())
    private let work = DispatchSemaphore(value: 0)

    init(share: Int, limit: Int) {
        self.share = share
        self.limit = max(limit, share)
        let thread = Thread { [self] in run() }
        thread.name = "session-log-writer"
        thread.start()
    }

    /// Whether `session` has no room for more output now (a cheap check before `waitForRoom`).
    func isFull(_ session: Session) -> Bool {
        state.withLock { Self.isFull($0, ObjectIdentifier(session), share: share, limit: limit) }
    }

    /// When `session` has no room, keeps `resume` and answers true: the writer calls it (once,
    /// on its thread) when there is room again. Answers false, dropping `resume`, when there is
    /// room now. Never waits.
    func waitForRoom(_ session: Session, resume: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { state in
            let id = ObjectIdentifier(session)
            guard Self.isFull(state, id, share: share, limit: limit) else { return false }
            state.waiting[id, default: []].append(resume)
            return true
        }
    }

    private static func isFull(_ state: State, _ id: ObjectIdentifier, share: Int, limit: Int) -> Bool {
        state.bytes >= limit || state.queued[id, default: 0] >= share
    }

    /// Queues a record, without waiting (its session's lock is held).
    func push(_ job: Job) {
        let size = job.record.body.count + SessionRecord.overhead
        state.withLock { state in
            state.jobs.append(job)
            state.bytes += size
            state.queued[ObjectIdentifier(job.session), default: 0] += size
        }
        work.signal()
    }

    /// Waits until everything queued so far is written and visible to readers, or `timeout`
    /// passed (a disk that stopped answering); answers whether it was written. Blocking: for
    /// tests and shutdown, off the cooperative pool.
    @discardableResult
    func drain(timeout: Duration = .seconds(30)) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while state.withLock({ !$0.jobs.isEmpty || $0.busy }) {
            guard ContinuousClock.now < deadline else { return false }
            usleep(1_000)
        }
        return true
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
            let resumed = state.withLock { state -> [@Sendable () -> Void] in
                for job in jobs {
                    let id = ObjectIdentifier(job.session)
                    let size = job.record.body.count + SessionRecord.overhead
                    state.bytes -= size
                    state.queued[id, default: 0] -= size
                    if state.queued[id] == 0 { state.queued[id] = nil }
                }
                state.busy = false
                var resumed: [@Sendable () -> Void] = []
                for id in Array(state.waiting.keys) where !Self.isFull(state, id, share: share, limit: limit) {
                    resumed += state.waiting.removeValue(forKey: id) ?? []
                }
                return resumed
            }
            for resume in resumed { resume() }
        }
    }
}
