import Hummingbird

/// A request's query string decoded as an HTML form, as the contract's Conventions say and as
/// FastAPI reads it: `+` is a space, then `%XX` escapes are bytes (a literal plus is `%2B`).
/// Python's `requests`, `URLSearchParams` and curl's `--data-urlencode -G` all send spaces as `+`.
///
/// Every route and middleware reads its query through `request.queryParameters` (this), never
/// Hummingbird's `request.uri.queryParameters`, which decodes `%XX` but leaves `+` a plus (so
/// `path=read+me.md` would name `read+me.md`). A `%` without two hex digits after it stays as
/// it is, and bytes that are not UTF-8 become U+FFFD (as Python's `parse_qsl` does). A name given
/// twice: the last value counts, as in FastAPI. Bounded by the request head's size.
struct QueryParameters: Sendable {
    private let pairs: [(name: String, value: String)]

    init(_ query: String?) {
        guard let query, !query.isEmpty else {
            pairs = []
            return
        }
        pairs = query.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true).map { pair in
            guard let equals = pair.firstIndex(of: UInt8(ascii: "=")) else { return (Self.decode(pair), "") }
            return (Self.decode(pair[..<equals]), Self.decode(pair[pair.index(after: equals)...]))
        }
    }

    /// The value of `name` (its last occurrence), nil when absent; `name=` gives "".
    subscript(name: String) -> String? {
        pairs.last { $0.name == name }?.value
    }

    /// One name or value: `+` → space, `%XX` → that byte, the bytes read as UTF-8.
    static func decode(_ encoded: some Collection<UInt8>) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(encoded.count)
        var index = encoded.startIndex
        while index != encoded.endIndex {
            let byte = encoded[index]
            index = encoded.index(after: index)
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard index != encoded.endIndex, let high = hexValue(encoded[index]) else {
                    bytes.append(byte)
                    continue
                }
                let next = encoded.index(after: index)
                guard next != encoded.endIndex, let low = hexValue(encoded[next]) else {
                    bytes.append(byte)
                    continue
                }
                bytes.append(high << 4 | low)
                index = encoded.index(after: next)
            default:
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension Request {
    /// The query string as the contract decodes it (`+` is a space): the one way routes read it.
    var queryParameters: QueryParameters { QueryParameters(uri.query) }
}
