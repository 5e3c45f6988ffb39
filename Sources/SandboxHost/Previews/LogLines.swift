/// Turns a session's output chunks into lines, per command and stream; a partial last line
/// waits for the rest (or for `flush`).
struct LogLines {
    private var partial: [String: String] = [:]

    /// The complete lines `data` finishes, without their line ends.
    mutating func feed(_ data: String, key: String) -> [String] {
        let text = (partial.removeValue(forKey: key) ?? "") + data
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
        let rest = lines.removeLast()
        if !rest.isEmpty { partial[key] = rest }
        return lines
    }

    /// What is left of every stream, as last lines.
    mutating func flush() -> [(key: String, line: String)] {
        defer { partial.removeAll() }
        return partial.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}
