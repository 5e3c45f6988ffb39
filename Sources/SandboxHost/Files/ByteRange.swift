/// One `Range: bytes=…` request against a file of `size` bytes (RFC 9110 §14.1.2): the first
/// range only; other units or a malformed header mean the whole file.
struct ByteRange: Equatable {
    let start: Int64
    /// Inclusive.
    let end: Int64

    var count: Int64 { end - start + 1 }

    enum Parsed: Equatable {
        case whole
        case range(ByteRange)
        case unsatisfiable
    }

    static func parse(_ header: String?, size: Int64) -> Parsed {
        guard let header, header.hasPrefix("bytes=") else { return .whole }
        guard let first = header.dropFirst("bytes=".count).split(separator: ",").first else { return .whole }
        let bounds = first.trimmingCharacters(in: .whitespaces).split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard bounds.count == 2 else { return .whole }
        if bounds[0].isEmpty {
            guard let suffix = Int64(bounds[1]), suffix >= 0 else { return .whole }
            guard suffix > 0, size > 0 else { return .unsatisfiable }
            return .range(ByteRange(start: max(0, size - suffix), end: size - 1))
        }
        guard let start = Int64(bounds[0]), start >= 0 else { return .whole }
        let end: Int64
        if bounds[1].isEmpty {
            end = size - 1
        } else {
            guard let last = Int64(bounds[1]), last >= start else { return .whole }
            end = min(last, size - 1)
        }
        guard start < size else { return .unsatisfiable }
        return .range(ByteRange(start: start, end: end))
    }
}

import Foundation
