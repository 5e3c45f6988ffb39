#if canImport(Glibc)
import Glibc
#endif

extension AddressBlock {
    /// Parses `203.0.113.7`, `203.0.113.0/24`, `2001:db8::1` or `2001:db8::/32` (inet_pton for
    /// the address; a prefix of decimal digits within the family's length). Host bits past the
    /// prefix are cleared. Nil for anything else: zones (`%eth0`), junk, an empty or out-of-range prefix.
    public static func parse(_ text: String) -> AddressBlock? {
        guard !text.isEmpty, text.utf8.count <= 64, !text.utf8.contains(0) else { return nil }
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let address = String(parts[0])
        var bytes: [UInt8]
        if address.contains(":") {
            bytes = [UInt8](repeating: 0, count: 16)
            guard inet_pton(AF_INET6, address, &bytes) == 1 else { return nil }
        } else {
            bytes = [UInt8](repeating: 0, count: 4)
            guard inet_pton(AF_INET, address, &bytes) == 1 else { return nil }
        }
        var prefix = bytes.count * 8
        if parts.count == 2 {
            let digits = parts[1]
            guard !digits.isEmpty, digits.count <= 3, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                  let value = Int(digits), value <= bytes.count * 8 else { return nil }
            prefix = value
        }
        return AddressBlock(bytes: bytes, prefix: prefix)
    }

    /// Whether `other` lies wholly inside this block (same family, a prefix at least as long).
    public func contains(block other: AddressBlock) -> Bool {
        other.bytes.count == bytes.count && other.prefix >= prefix && contains(other.bytes)
    }

    /// The private ranges (API.md, "Network"): `10/8`, `172.16/12`, `192.168/16`, `100.64/10`,
    /// `fc00::/7`. Always denied to sandboxes unless the operator opens a block inside them.
    public static let privateRanges: [AddressBlock] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"]
        .map { AddressBlock.parse($0)! }

    /// Whether this block lies wholly inside one of `privateRanges`.
    public var isPrivate: Bool { Self.privateRanges.contains { $0.contains(block: self) } }
}
