import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Reads a command's stdout and stderr pipes on the poller thread and keeps them, separately and
/// interleaved in arrival order, up to a cap per stream.
///
/// Past the cap, output is read and dropped (`truncated`), so a flood never blocks the command
/// and never grows memory. After `detach()`, a background process that still holds the pipes is
/// drained until it closes them, so it never dies of SIGPIPE.
final class OutputCollector: Sendable {
    enum Stream: Sendable { case stdout, stderr }

    /// A chunk as it arrived, for sessions that log and stream it.
    typealias Sink = @Sendable (Stream, [UInt8]) -> Void

    /// Back-pressure from where a sink's chunks go (a session's log writer): while `isFull`,
    /// the pipes are not read (their writers block on them, no host thread does) until `wait`'s
    /// `resume` is called; `wait` answers false, dropping `resume`, when there is room already.
    struct Gate: Sendable {
        let isFull: @Sendable () -> Bool
        let wait: @Sendable (_ resume: @escaping @Sendable () -> Void) -> Bool
    }

    private let cap: Int
    private let poller: EventPoller
    private let sink: Sink?
    private let gate: Gate?
    private let state = Mutex(State())

    private struct State {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var output: [UInt8] = []
        var truncated = false
        var open = 0
        var detached = false
        var closedWaiters: [CheckedContinuation<Void, Never>] = []
    }

    init(cap: Int, poller: EventPoller, sink: Sink? = nil, gate: Gate? = nil) {
        self.cap = cap
        self.poller = poller
        self.sink = sink
        self.gate = gate
    }

    /// Starts reading `fd` (made non-blocking); the collector closes it at end of stream.
    func attach(_ fd: Int32, as stream: Stream) throws {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        state.withLock { $0.open += 1 }
        try poller.register(fd) { [self] _ in self.drain(fd, stream) }
    }

    struct Snapshot: Sendable {
        let stdout: [UInt8]
        let stderr: [UInt8]
        let output: [UInt8]
        let truncated: Bool
    }

    var snapshot: Snapshot {
        state.withLock { Snapshot(stdout: $0.stdout, stderr: $0.stderr, output: $0.output, truncated: $0.truncated) }
    }

    /// Waits until every pipe reached end of stream, or `grace` passed (a detached background
    /// process may hold them open).
    func waitClosed(grace: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let done = self.state.withLock { state in
                        if state.open == 0 { return true }
                        state.closedWaiters.append(continuation)
                        return false
                    }
                    if done { continuation.resume() }
                }
            }
            group.addTask { try? await Task.sleep(for: grace) }
            await group.next()
            group.cancelAll()
            // Release the other waiter if the grace period won.
            let waiters = self.state.withLock { state in
                defer { state.closedWaiters.removeAll() }
                return state.closedWaiters
            }
            waiters.forEach { $0.resume() }
            await group.waitForAll()
        }
    }

    /// From now on, drop what arrives; keeps draining until the writers close.
    func detach() {
        state.withLock { $0.detached = true }
    }

    /// Reads per wakeup: the poller is level-triggered, so what is left is read on its next turn,
    /// after every other descriptor that is ready (one flooding pipe cannot hold the thread).
    static let readsPerWakeup = 4
    /// How long a detached pipe that is still flooding is left unread: its writer, a background
    /// process nobody waits for, then blocks on the full pipe instead of costing the host's
    /// poller thread a core (at most 4 reads of 64 KiB per pause, ~6 MB/s; drained, never killed).
    static let detachedPause: Duration = .milliseconds(40)

    private func drain(_ fd: Int32, _ stream: Stream) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var reads = 0
        while true {
            if reads == Self.readsPerWakeup {
                if state.withLock({ $0.detached }) { poller.pause(fd, for: Self.detachedPause) }
                return
            }
            if let gate, gate.isFull() {
                // Held off the poller until the sink has room: the hold comes first, so a
                // `resume` racing this check always finds it to release.
                poller.hold(fd)
                if gate.wait({ [poller] in poller.release(fd) }) { return }
                poller.release(fd)
            }
            reads += 1
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                let chunk = Array(buffer[0..<count])
                let keep = state.withLock { state -> Bool in
                    guard !state.detached else { return false }
                    let current = stream == .stdout ? state.stdout.count : state.stderr.count
                    let room = max(0, cap - current)
                    let kept = chunk.prefix(room)
                    if kept.count < chunk.count { state.truncated = true }
                    if stream == .stdout { state.stdout.append(contentsOf: kept) } else { state.stderr.append(contentsOf: kept) }
                    if state.output.count < 2 * cap { state.output.append(contentsOf: kept.prefix(2 * cap - state.output.count)) }
                    return true
                }
                if keep { sink?(stream, chunk) }
                continue
            }
            if count < 0 && (errno == EAGAIN || errno == EINTR) { return }
            // End of stream (or an error): this pipe is done.
            poller.unregister(fd)
            close(fd)
            let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.open -= 1
                guard state.open == 0 else { return [] }
                defer { state.closedWaiters.removeAll() }
                return state.closedWaiters
            }
            waiters.forEach { $0.resume() }
            return
        }
    }
}
