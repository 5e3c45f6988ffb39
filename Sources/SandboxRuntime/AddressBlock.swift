/// An IPv4 or IPv6 address block: the network's bytes (4 or 16, host bits zero) and its prefix
/// length. A single address is a block of prefix 32 or 128.
public struct AddressBlock: Sendable, Equatable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]
    public let prefix: Int

    public var isIPv4: Bool { bytes.count == 4 }

    /// Nil unless `bytes` has 4 or 16 entries and `prefix` fits; host bits are cleared.
    public init?(bytes: [UInt8], prefix: Int) {
        guard bytes.count == 4 || bytes.count == 16, prefix >= 0, prefix <= bytes.count * 8 else { return nil }
        var network = bytes
        for index in network.indices {
            let bitsKept = max(0, min(8, prefix - index * 8))
            network[index] &= bitsKept == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - bitsKept))
        }
        self.bytes = network
        self.prefix = prefix
    }

    /// Whether `address` (4 or 16 bytes) lies in this block.
    public func contains(_ address: [UInt8]) -> Bool {
        guard address.count == bytes.count else { return false }
        return AddressBlock(bytes: address, prefix: prefix)?.bytes == bytes
    }

    /// `203.0.113.0/24`, `2001:db8::/32`; a whole-length prefix prints the address alone.
    public var description: String {
        let address: String
        if isIPv4 {
            address = bytes.map(String.init).joined(separator: ".")
        } else {
            address = Self.ipv6Text(bytes)
        }
        return prefix == bytes.count * 8 ? address : "\(address)/\(prefix)"
    }

    /// RFC 5952 text: lower-case hex groups, the longest run (2 or more) of zero groups as `::`.
    static func ipv6Text(_ bytes: [UInt8]) -> String {
        let groups = stride(from: 0, to: 16, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
        var best = (start: -1, length: 0), run = (start: -1, length: 0)
        for (index, group) in groups.enumerated() {
            if group == 0 {
                run = run.start < 0 ? (index, 1) : (run.start, run.length + 1)
                if run.length > best.length { best = run }
            } else {
                run = (-1, 0)
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard best.length >= 2 else { return hex.joined(separator: ":") }
        let head = hex[..<best.start].joined(separator: ":")
        let tail = hex[(best.start + best.length)...].joined(separator: ":")
        return head + "::" + tail
    }
}
