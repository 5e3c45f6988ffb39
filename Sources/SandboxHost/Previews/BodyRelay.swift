import NIOCore
import Synchronization

/// Hands body blocks from one task to another with at most `capacity` in flight: the producer
/// waits for the consumer beyond that, so memory stays flat however large the body. Either side
/// may stop: `cancel` (consumer gone) makes `send` answer false; `finish` ends `next`.
final class BodyRelay: Sendable {
    private struct State {
        var blocks: [ByteBuffer] = []
        var finished = false
        var failure: (any Error)?
        var cancelled = false
        var consumer: CheckedContinuation<ByteBuffer?, any Error>?
        var producer: CheckedContinuation<Bool, Never>?
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int = 4) { self.capacity = capacity }

    /// Queues a block; waits while `capacity` are queued. False when the consumer went away.
    func send(_ block: ByteBuffer) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let action: () -> Void = state.withLock { state in
                if state.cancelled { return { continuation.resume(returning: false) } }
                if let consumer = state.consumer {
                    state.consumer = nil
                    return { consumer.resume(returning: block); continuation.resume(returning: true) }
                }
                state.blocks.append(block)
                if state.blocks.count < capacity { return { continuation.resume(returning: true) } }
                state.producer = continuation
                return {}
            }
            action()
        }
    }

    /// No more blocks (after the ones queued); with an error, `next` throws it after them.
    func finish(_ error: (any Error)? = nil) {
        let consumer: CheckedContinuation<ByteBuffer?, any Error>? = state.withLock { state in
            state.finished = true
            state.failure = error
            defer { state.consumer = nil }
            return state.blocks.isEmpty ? state.consumer : nil
        }
        if let error { consumer?.resume(throwing: error) } else { consumer?.resume(returning: nil) }
    }

    /// The consumer went away: the producer's `send` answers false from now on.
    func cancel() {
        let producer = state.withLock { state in
            state.cancelled = true
            state.blocks.removeAll()
            defer { state.producer = nil }
            return state.producer
        }
        producer?.resume(returning: false)
    }

    /// The next block, or nil at the end.
    func next() async throws -> ByteBuffer? {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ByteBuffer?, any Error>) in
            let action: () -> Void = state.withLock { state in
                if !state.blocks.isEmpty {
                    let block = state.blocks.removeFirst()
                    let producer = state.producer
                    state.producer = nil
                    return { continuation.resume(returning: block); producer?.resume(returning: true) }
                }
                if state.finished {
                    let failure = state.failure
                    return { if let failure { continuation.resume(throwing: failure) } else { continuation.resume(returning: nil) } }
                }
                state.consumer = continuation
                return {}
            }
            action()
        }
    }
}
