/// Reads a DNS message's fields with every read bounds-checked: a read past the end answers nil,
/// never traps. Compression pointers may only point backwards, before the name that uses them,
/// and at most `maxPointers` of them are followed per name, so no message can loop the reader.
struct DNSWireReader {
    static let maxPointers = 16
    static let maxNameLength = 255

    let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    var remaining: Int { bytes.count - offset }

    mutating func readUInt8() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func readUInt16() -> UInt16? {
        guard remaining >= 2 else { return nil }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func readUInt32() -> UInt32? {
        guard let high = readUInt16(), let low = readUInt16() else { return nil }
        return UInt32(high) << 16 | UInt32(low)
    }

    /// The next `count` bytes' range, skipped over.
    mutating func skip(_ count: Int) -> Range<Int>? {
        guard count >= 0, remaining >= count else { return nil }
        defer { offset += count }
        return offset..<(offset + count)
    }

    /// A possibly compressed name. The reader ends up after the name's own bytes (after its first
    /// pointer, if it has one).
    mutating func readName() -> DNSName? {
        var labels: [[UInt8]] = []
        var length = 1
        var position = offset
        var resumeAt: Int?
        var pointers = 0
        // A pointer must land before the lowest position read so far: each jump goes strictly
        // backwards, so even without the count cap the walk ends.
        var lowestStart = offset
        while true {
            guard position < bytes.count else { return nil }
            let head = bytes[position]
            switch head & 0xC0 {
            case 0x00:
                if head == 0 {
                    offset = resumeAt ?? (position + 1)
                    return DNSName(labels: labels)
                }
                let count = Int(head)
                guard position + 1 + count <= bytes.count else { return nil }
                length += count + 1
                guard length <= Self.maxNameLength else { return nil }
                labels.append(Array(bytes[(position + 1)..<(position + 1 + count)]))
                position += 1 + count
            case 0xC0:
                guard position + 1 < bytes.count else { return nil }
                let target = Int(head & 0x3F) << 8 | Int(bytes[position + 1])
                pointers += 1
                guard pointers <= Self.maxPointers, target < lowestStart else { return nil }
                if resumeAt == nil { resumeAt = position + 2 }
                lowestStart = target
                position = target
            default:
                // 0x40 and 0x80: extended label types, obsolete or never deployed.
                return nil
            }
        }
    }
}
