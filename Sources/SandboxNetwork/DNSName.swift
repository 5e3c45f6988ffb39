import SandboxRuntime

/// A domain name as it travels on the wire: its labels, each 1 to 63 bytes, at most 255 bytes in
/// all. Names are compared label by label, ASCII letters case-insensitively, so a label that
/// itself holds a dot (`pypi.org` as ONE label) never passes for the two labels `pypi` and `org`.
/// The labels keep the case they came in (a client that mixes case checks it in the answer).
struct DNSName: Sendable, Hashable, CustomStringConvertible {
    /// As sent; the root name has none.
    let labels: [[UInt8]]
    /// Lower-cased (ASCII letters only): what comparisons use.
    private let folded: [[UInt8]]

    init(labels: [[UInt8]]) {
        self.labels = labels
        self.folded = labels.map { $0.map(Self.lowercased) }
    }

    static func == (left: DNSName, right: DNSName) -> Bool {
        left.folded == right.folded
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(folded)
    }

    /// `pypi.org` or `pypi.org.` → its labels; nil when a label is empty or too long.
    init?(text: String) {
        var trimmed = Substring(text)
        if trimmed.hasSuffix(".") { trimmed = trimmed.dropLast() }
        guard !trimmed.isEmpty else { return nil }
        let labels = trimmed.split(separator: ".", omittingEmptySubsequences: false).map { Array($0.utf8) }
        guard labels.allSatisfy({ (1...63).contains($0.count) }), labels.reduce(1, { $0 + $1.count + 1 }) <= 255 else {
            return nil
        }
        self.init(labels: labels)
    }

    /// Uncompressed wire form: length-prefixed labels, then the root's zero.
    var wireBytes: [UInt8] {
        var bytes: [UInt8] = []
        for label in labels {
            bytes.append(UInt8(label.count))
            bytes.append(contentsOf: label)
        }
        bytes.append(0)
        return bytes
    }

    /// Whether a policy entry names this: a domain is this name exactly; a wildcard `*.suffix`
    /// is one or more labels in front of `suffix`, never `suffix` itself; a block names no name.
    func matches(_ destination: NetworkDestination) -> Bool {
        switch destination {
        case .block:
            return false
        case .domain(let text):
            guard let other = DNSName(text: text) else { return false }
            return folded == other.folded
        case .wildcard(let text):
            guard let suffix = DNSName(text: text) else { return false }
            return folded.count > suffix.folded.count && Array(folded.suffix(suffix.folded.count)) == suffix.folded
        }
    }

    /// For logs only: labels joined by dots, bytes outside printable ASCII (and dots inside a
    /// label) escaped as `\DDD`.
    var description: String {
        guard !labels.isEmpty else { return "." }
        return labels.map { label in
            label.map { byte in
                (0x21...0x7E).contains(byte) && byte != UInt8(ascii: ".") && byte != UInt8(ascii: "\\")
                    ? String(UnicodeScalar(byte)) : "\\" + String(format3: byte)
            }.joined()
        }.joined(separator: ".")
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
    }
}

private extension String {
    /// Three decimal digits, zero-padded (`\DDD` escapes of RFC 1035).
    init(format3 byte: UInt8) {
        let digits = String(byte)
        self = String(repeating: "0", count: 3 - digits.count) + digits
    }
}
