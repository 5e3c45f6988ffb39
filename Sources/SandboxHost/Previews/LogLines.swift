/// Turns a session's output chunks into lines, per command and stream; a partial last line
/// waits for the rest (or for `flush`).
///
/// Bounded: a line longer than `longestLine` (output that never ends a line, such as a progress
/// bar redrawn with `\r`, or a hostile flood) is cut there and given as a line, so the partial
/// lines held stay under `longestLine` per stream.
struct LogLines {
    static let longestLine = 64 << 10
    private var partial: [String: String] = [:]

    /// The complete lines `data` finishes, without their line ends.
    mutating func feed(_ data: String, key: String) -> [String] {
        let text = (partial.removeValue(forKey: key) ?? "") + data
        // Split on the byte: as Characters, "\r\n" is one that is not "\n", and CRLF output
        // would never end a line.
        var pieces = text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false)
        // The unfinished rest keeps a "\r" it ends with: the "\n" may come next.
        var rest = String(decoding: pieces.removeLast(), as: UTF8.self)
        var lines = pieces.map { String(decoding: $0.last == 0x0D ? $0.dropLast() : $0, as: UTF8.self) }
        if rest.utf8.count > Self.longestLine {
            let (cut, kept) = Self.cut(Array(rest.utf8))
            lines += cut
            rest = kept
        }
        if !rest.isEmpty { partial[key] = rest }
        return lines
    }

    /// `bytes` as lines of at most `longestLine` bytes each, cut where a character starts, and
    /// what is left (shorter).
    private static func cut(_ bytes: [UInt8]) -> (lines: [String], rest: String) {
        var lines: [String] = []
        var start = 0
        while bytes.count - start > longestLine {
            var end = start + longestLine
            while end > start + 1, bytes[end] & 0xC0 == 0x80 { end -= 1 }
            lines.append(String(decoding: bytes[start..<end], as: UTF8.self))
            start = end
        }
        return (lines, String(decoding: bytes[start...], as: UTF8.self))
    }

    /// What is left of every stream, as last lines.
    mutating func flush() -> [(key: String, line: String)] {
        defer { partial.removeAll() }
        return partial.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}
