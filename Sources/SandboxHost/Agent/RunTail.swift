import NIOCore

/// The most recent events of one live run, each held once for every stream that follows it,
/// as the frame the HTTP layer built for it (opaque bytes here).
///
/// Bounded whatever the number or speed of the streams: at most `maxEvents` events and
/// `maxBytes` bytes of frames, the oldest dropped first; an event larger than `maxBytes` on its
/// own is not held (the tail is emptied: streams read it from the database). The frames held are
/// contiguous in sequence and all stored: a stream whose next event is not in here reads the
/// database. Not thread-safe: `AgentRunHub` keeps it under its lock.
struct RunTail: Sendable {
    /// One event, as stored, and the bytes every stream writes for it.
    struct Frame: Sendable {
        let sequence: Int
        let bytes: ByteBuffer
    }

    /// What a stream at some cursor gets from the tail.
    enum Read: Sendable {
        /// The events right after the cursor, in order (at least one); `more`: the tail holds
        /// later ones too.
        case frames([Frame], more: Bool)
        /// Nothing after the cursor has been published yet.
        case caughtUp
        /// The event after the cursor is no longer (or was never) held: read the database.
        case behind
    }

    /// Events held per run, at most: 512 frames of a streamed answer (small `content` deltas,
    /// ~100–200 bytes each) is a few seconds of a run, enough for every stream that keeps up.
    static let maxEvents = 512
    /// Bytes of frames held per run, at most (the smaller of the two bounds wins): a few large
    /// tool results fill it, and streams behind them read those from the database.
    static let maxBytes = 1 << 20

    let maxEvents: Int
    let maxBytes: Int
    /// `frames[head...]` are held; the ones before `head` are dropped, removed in bulk.
    private var frames: [Frame] = []
    private var head = 0
    /// The bytes of the frames held.
    private(set) var bytes = 0
    /// The last sequence published (0: none yet), held or not.
    private(set) var last = 0

    init(maxEvents: Int = Self.maxEvents, maxBytes: Int = Self.maxBytes) {
        self.maxEvents = max(1, maxEvents)
        self.maxBytes = max(1, maxBytes)
    }

    /// How many events are held.
    var count: Int { frames.count - head }

    /// The oldest sequence held.
    var first: Int? { head < frames.count ? frames[head].sequence : nil }

    /// Adds the run's next event, already stored. An event out of order (not after `last`) is
    /// left to the database; one after a gap empties the tail first, so what it holds stays
    /// contiguous and a stream never skips a sequence.
    mutating func append(_ frame: Frame) {
        guard frame.sequence > last else { return }
        if frame.sequence != last + 1 { removeAll() }
        last = frame.sequence
        let size = frame.bytes.readableBytes
        guard size <= maxBytes else {
            removeAll()
            return
        }
        frames.append(frame)
        bytes += size
        while count > maxEvents || bytes > maxBytes {
            bytes -= frames[head].bytes.readableBytes
            head += 1
        }
        // The dropped slots are removed once they are as many as the bound: amortised O(1).
        if head >= maxEvents {
            frames.removeFirst(head)
            head = 0
        }
    }

    /// The events after `cursor`: at most `limit` of them, and none after the one that brings
    /// their bytes to `budget` (the first always comes).
    func read(after cursor: Int, limit: Int, budget: Int) -> Read {
        guard cursor < last else { return .caughtUp }
        guard let first, cursor + 1 >= first else { return .behind }
        // Contiguous, and `cursor + 1 <= last`: the index is inside the held frames.
        var index = head + (cursor + 1 - first)
        var batch: [Frame] = []
        var size = 0
        while index < frames.count, batch.count < max(1, limit), size < max(1, budget) {
            batch.append(frames[index])
            size += frames[index].bytes.readableBytes
            index += 1
        }
        return .frames(batch, more: index < frames.count)
    }

    private mutating func removeAll() {
        frames.removeAll()
        head = 0
        bytes = 0
    }
}
