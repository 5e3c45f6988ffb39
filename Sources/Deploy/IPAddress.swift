import Glibc

/// An IPv4 or IPv6 address as 4 or 16 bytes, and which ranges a deployment may not push to.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    public var isIPv6: Bool { bytes.count == 16 }

    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// Plain dotted IPv4 (`a.b.c.d`, no leading zeros: `0177.0.0.1` is refused, not read as octal)
    /// or IPv6 as `inet_pton` reads it (no zone).
    public init?(_ text: String) {
        if text.contains(":") {
            var address = in6_addr()
            guard !text.contains("%"), inet_pton(AF_INET6, text, &address) == 1 else { return nil }
            bytes = withUnsafeBytes(of: &address) { Array($0) }
            return
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var result: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  part == "0" || !part.hasPrefix("0"), let value = UInt8(part) else { return nil }
            result.append(value)
        }
        bytes = result
    }

    public var description: String {
        if !isIPv6 { return bytes.map(String.init).joined(separator: ".") }
        var address = in6_addr()
        withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count))
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The IPv4 address an IPv6 one carries and that a connection to it would reach: IPv4-mapped
    /// `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:AABB:CCDD::`.
    var embeddedIPv4: IPAddress? {
        guard isIPv6 else { return nil }
        let head = bytes[0..<12]
        if head.elementsEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]) || head.allSatisfy({ $0 == 0 })
            || head.elementsEqual([0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0]) {
            return IPAddress(bytes: Array(bytes[12..<16]))
        }
        if bytes[0] == 0x20, bytes[1] == 0x02 { return IPAddress(bytes: Array(bytes[2..<6])) }
        return nil
    }

    /// Why a push may not go here without the operator's say-so (loopback, private, link-local,
    /// unspecified, multicast, reserved); nil for a public address.
    public var internalRange: String? {
        if let inner = embeddedIPv4 {
            // `::` and `::1` are IPv6's own unspecified and loopback, not IPv4-compatible forms.
            if bytes[0..<15].allSatisfy({ $0 == 0 }), bytes[15] <= 1 { return bytes[15] == 0 ? "unspecified" : "loopback" }
            return inner.internalRange
        }
        if isIPv6 {
            let (a, b) = (bytes[0], bytes[1])
            if a == 0xFF { return "multicast" }
            if a == 0xFE, b & 0xC0 == 0x80 { return "link-local" }
            if a == 0xFE, b & 0xC0 == 0xC0 { return "site-local" }
            if a & 0xFE == 0xFC { return "private" }
            if a == 0x01, b == 0, bytes[2..<8].allSatisfy({ $0 == 0 }) { return "reserved" }  // 100::/64 discard
            return nil
        }
        let (a, b) = (bytes[0], bytes[1])
        switch a {
        case 0: return "unspecified"
        case 10: return "private"
        case 127: return "loopback"
        case 100 where b & 0xC0 == 64: return "private"  // 100.64.0.0/10, carrier-grade NAT
        case 169 where b == 254: return "link-local"
        case 172 where b & 0xF0 == 16: return "private"
        case 192 where b == 168: return "private"
        case 192 where b == 0 && bytes[2] == 0: return "reserved"
        case 198 where b & 0xFE == 18: return "reserved"  // 198.18.0.0/15, benchmarking
        case 224...239: return "multicast"
        case 240...255: return "reserved"
        default: return nil
        }
    }
}
