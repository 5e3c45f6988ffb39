/// How much one listing, tree or search answer may hold: a directory of a million files, or a
/// deep tree whose every node repeats a path of 64 KB, would otherwise be built whole in memory.
/// What is cut is said by `truncated`.
public struct ResponseLimits: Sendable {
    /// Entries (list), nodes (tree) or matches (search) in one answer.
    public var maxEntries = 100_000
    /// Bytes of JSON one answer may take, about.
    public var maxBytes = 64 << 20

    public init(maxEntries: Int = 100_000, maxBytes: Int = 64 << 20) {
        self.maxEntries = maxEntries
        self.maxBytes = maxBytes
    }

    /// Bytes `string` takes as a JSON string literal: quotes and escapes included (a control
    /// character is written `\u00XX`).
    static func jsonLength(_ string: String) -> Int {
        var length = 2
        for byte in string.utf8 {
            length += byte < 0x20 ? 6 : byte == 0x22 || byte == 0x5C ? 2 : 1
        }
        return length
    }
}
