/// The most recent output of a terminal, up to `capacity` bytes: a ring, so keeping it costs a
/// copy of each chunk and never grows. A client that connects gets it first, so its screen
/// repaints (a shell's prompt, a full-screen program's last frames).
struct TerminalScrollback: Sendable {
    static let capacity = 64 << 10

    private var ring = [UInt8](repeating: 0, count: TerminalScrollback.capacity)
    /// Index of the oldest byte, and how many are kept.
    private var start = 0
    private(set) var count = 0

    mutating func append(_ chunk: [UInt8]) {
        let capacity = Self.capacity
        var kept = chunk.suffix(capacity)[...]
        // At most two copies: up to the ring's end, then from its start.
        while !kept.isEmpty {
            let end = (start + count) % capacity
            let run = min(kept.count, capacity - end)
            ring.replaceSubrange(end..<(end + run), with: kept.prefix(run))
            kept = kept.dropFirst(run)
            let overflow = max(0, count + run - capacity)
            count = min(capacity, count + run)
            start = (start + overflow) % capacity
        }
    }

    /// The bytes kept, oldest first, starting at a character: a UTF-8 sequence the ring cut in
    /// two is dropped, not shown as a broken character.
    var contents: [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(count)
        let capacity = Self.capacity
        let end = start + count
        if end <= capacity {
            bytes.append(contentsOf: ring[start..<end])
        } else {
            bytes.append(contentsOf: ring[start..<capacity])
            bytes.append(contentsOf: ring[0..<(end - capacity)])
        }
        if count == capacity, let first = bytes.firstIndex(where: { $0 & 0xC0 != 0x80 }), first > 0, first < 4 {
            bytes.removeFirst(first)
        }
        return bytes
    }
}
