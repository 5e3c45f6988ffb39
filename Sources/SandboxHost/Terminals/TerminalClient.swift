import Synchronization

/// One WebSocket attached to a terminal: the output waiting for it, in a bounded queue that its
/// connection's writer takes from.
///
/// The hub adds output on the poller's thread (never waiting); the writer takes it in batches of
/// up to `batchBytes`. A queue past the hub's high-water mark pauses the terminal (see
/// `TerminalHub`); a writer that makes no progress for the stall timeout is dropped by its
/// connection, so a client that stops reading holds at most the high-water mark plus a batch.
final class TerminalClient: Sendable {
    /// What the writer sends next.
    enum Next: Sendable {
        case output([UInt8])
        /// The process exited with this code: send the exit frame and close.
        case exit(Int)
    }

    let id: Int
    /// The largest frame sent: 16 KiB, the default limit of common clients (hummingbird's).
    static let batchBytes = 16 << 10
    private let state = Mutex(State())

    private struct State {
        var chunks: [[UInt8]] = []
        var pending = 0
        var exitCode: Int?
        var ended = false
        var waiter: CheckedContinuation<Next?, Never>?
        /// When the writer's current write began (nil when it is not writing).
        var writeStarted: ContinuousClock.Instant?
    }

    init(id: Int) { self.id = id }

    /// Bytes queued and not yet taken by the writer.
    var pending: Int { state.withLock { $0.pending } }

    /// Queues output; answers the bytes now pending.
    @discardableResult
    func enqueue(_ bytes: [UInt8]) -> Int {
        guard !bytes.isEmpty else { return state.withLock { $0.pending } }
        let (waiter, batch, pending): (CheckedContinuation<Next?, Never>?, [UInt8], Int) = state.withLock { state in
            guard !state.ended else { return (nil, [], state.pending) }
            state.chunks.append(bytes)
            state.pending += bytes.count
            guard let waiter = state.waiter else { return (nil, [], state.pending) }
            state.waiter = nil
            return (waiter, Self.takeBatch(&state), state.pending)
        }
        waiter?.resume(returning: .output(batch))
        return pending
    }

    /// The process exited: after what is queued, the writer sends the exit.
    func finish(exitCode: Int) {
        let waiter: CheckedContinuation<Next?, Never>? = state.withLock { state in
            guard !state.ended, state.exitCode == nil else { return nil }
            state.exitCode = exitCode
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: .exit(exitCode))
    }

    /// No more output for this client (it was detached): the writer's `next` answers nil.
    func end() {
        let waiter: CheckedContinuation<Next?, Never>? = state.withLock { state in
            state.ended = true
            state.chunks.removeAll()
            state.pending = 0
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The next batch of output (queued chunks joined, up to `batchBytes`: a chunk longer than
    /// that is split), the exit, or nil once ended. One writer at a time.
    func next() async -> Next? {
        await withCheckedContinuation { continuation in
            let ready: Next?? = state.withLock { state in
                if state.ended { return .some(nil) }
                if !state.chunks.isEmpty { return .some(.output(Self.takeBatch(&state))) }
                if let code = state.exitCode { return .some(.exit(code)) }
                state.waiter = continuation
                return .none
            }
            if case .some(let next) = ready { continuation.resume(returning: next) }
        }
    }

    private static func takeBatch(_ state: inout State) -> [UInt8] {
        var batch: [UInt8] = []
        while let first = state.chunks.first, batch.count < batchBytes {
            let room = batchBytes - batch.count
            if first.count <= room {
                batch.append(contentsOf: first)
                state.chunks.removeFirst()
            } else {
                batch.append(contentsOf: first[..<room])
                state.chunks[0] = Array(first[room...])
            }
        }
        state.pending -= batch.count
        return batch
    }

    /// Brackets one write to the connection, for `stalled(after:)`.
    func writing(_ active: Bool) {
        state.withLock { $0.writeStarted = active ? ContinuousClock.now : nil }
    }

    /// Whether a write has been under way for longer than `timeout`: the client stopped reading.
    func stalled(after timeout: Duration) -> Bool {
        state.withLock { state in state.writeStarted.map { ContinuousClock.now - $0 > timeout } ?? false }
    }
}
