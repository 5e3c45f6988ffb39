/// A policy object in JSON (API.md, "Network"): `{"mode","allow_out","deny_out"}`, as a request
/// body, a project's stored policy, or `SANDBOX_HOST_NETWORK_DEFAULT`. Decoding validates it all:
/// a malformed entry, an unknown field or mode, a missing mode or a list over `maxEntries` is a
/// `RuntimeError.badRequest` (400) naming it; `allow_out` outside `allowlist` mode is
/// `.unprocessable` (422). Values of the wrong JSON type are `DecodingError`s (422). Encoding
/// writes every entry's normalised `description`, which decodes to the same policy.
extension NetworkPolicy: Codable {
    /// Entries per list, at most (a policy is a short list of names and blocks, not a blocklist feed).
    public static let maxEntries = 256

    private struct Field: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }

        static let mode = Field("mode"), allowOut = Field("allow_out"), denyOut = Field("deny_out")
        static let known: Set<String> = ["mode", "allow_out", "deny_out"]
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Field.self)
        if let unknown = container.allKeys.map(\.stringValue).filter({ !Field.known.contains($0) }).sorted().first {
            throw RuntimeError(.badRequest, "unknown field \"\(Self.quoted(unknown))\" in the network policy; fields: mode, allow_out, deny_out")
        }
        guard let modeName = try container.decodeIfPresent(String.self, forKey: .mode) else {
            throw RuntimeError(.badRequest, "the network policy needs a \"mode\": none, allowlist or open")
        }
        guard let mode = Mode(rawValue: modeName) else {
            throw RuntimeError(.badRequest, "unknown network mode \"\(Self.quoted(modeName))\"; modes: none, allowlist, open")
        }
        let allowOut = try Self.destinations(try container.decodeIfPresent([String].self, forKey: .allowOut) ?? [], field: "allow_out")
        let denyOut = try Self.destinations(try container.decodeIfPresent([String].self, forKey: .denyOut) ?? [], field: "deny_out")
        guard allowOut.isEmpty || mode == .allowlist else {
            throw RuntimeError(.unprocessable, "\"allow_out\" applies only in \"allowlist\" mode; this policy's mode is \"\(mode.rawValue)\"")
        }
        self.init(mode: mode, allowOut: allowOut, denyOut: denyOut)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Field.self)
        try container.encode(mode.rawValue, forKey: .mode)
        try container.encode(allowOut.map(\.description), forKey: .allowOut)
        try container.encode(denyOut.map(\.description), forKey: .denyOut)
    }

    /// Each entry parsed, in order, duplicates (after normalisation) dropped.
    private static func destinations(_ texts: [String], field: String) throws -> [NetworkDestination] {
        guard texts.count <= maxEntries else {
            throw RuntimeError(.badRequest, "\"\(field)\" has \(texts.count) entries; at most \(maxEntries)")
        }
        var seen = Set<NetworkDestination>()
        var result: [NetworkDestination] = []
        for text in texts {
            let destination = try NetworkDestination.parse(text)
            if seen.insert(destination).inserted { result.append(destination) }
        }
        return result
    }

    /// A client's text for an error message: at most 64 characters, control characters as `?`.
    static func quoted(_ text: String) -> String {
        let shown = String(String.UnicodeScalarView(text.unicodeScalars.prefix(64).map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }))
        return text.unicodeScalars.count > 64 ? shown + "…" : shown
    }
}

extension NetworkDestination {
    /// Longest entry text accepted, in bytes (a name is at most 253; a CIDR far less).
    public static let maxLength = 255

    /// Parses one `allow_out`/`deny_out` entry: an IPv4/IPv6 address or CIDR block, a domain name
    /// (`pypi.org`: two or more labels of 1-63 `[a-z0-9-]`, not starting or ending with `-`,
    /// 253 bytes at most, the last label not all digits; upper case is lowered, one trailing dot
    /// dropped) or a wildcard (`*.npmjs.org`: a leading `*.` before a name of one or more labels).
    /// Anything else is a `RuntimeError.badRequest` naming the entry.
    public static func parse(_ text: String) throws -> NetworkDestination {
        func invalid(_ why: String) -> RuntimeError {
            RuntimeError(.badRequest, "invalid network destination \"\(NetworkPolicy.quoted(text))\": \(why)")
        }
        guard !text.isEmpty else { throw invalid("empty") }
        guard text.utf8.count <= maxLength else { throw invalid("longer than \(maxLength) bytes") }
        let lowered = NetworkDestination.normalisedQueryName(text)
        if lowered.hasPrefix("*.") {
            let suffix = String(lowered.dropFirst(2))
            guard let reason = Self.nameProblem(suffix, minimumLabels: 1) else { return .wildcard(suffix) }
            throw invalid(reason)
        }
        if text.contains("*") { throw invalid("a wildcard is only a leading \"*.\" (as in *.npmjs.org)") }
        let lastLabel = lowered.split(separator: ".", omittingEmptySubsequences: false).last ?? ""
        let looksLikeAddress = text.contains(":") || text.contains("/") || (!lastLabel.isEmpty && lastLabel.allSatisfy(\.isASCII) && lastLabel.allSatisfy(\.isNumber))
        if looksLikeAddress {
            guard let block = AddressBlock.parse(text) else { throw invalid("not an IPv4/IPv6 address or CIDR block") }
            return .block(block)
        }
        if let reason = Self.nameProblem(lowered, minimumLabels: 2) { throw invalid(reason) }
        return .domain(lowered)
    }

    /// Why `name` (lower-cased, no trailing dot) is not a host name, or nil when it is one.
    static func nameProblem(_ name: String, minimumLabels: Int) -> String? {
        guard !name.isEmpty else { return "empty name" }
        guard name.utf8.count <= 253 else { return "a name is at most 253 bytes" }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= minimumLabels else {
            return minimumLabels == 2 ? "a domain name has at least two labels (as in pypi.org)" : "empty name"
        }
        for label in labels {
            guard !label.isEmpty else { return "empty label" }
            guard label.utf8.count <= 63 else { return "a label is at most 63 bytes" }
            guard label.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }) else {
                return "a label holds only letters, digits and '-' (international names in their xn-- form)"
            }
            guard label.first != "-", label.last != "-" else { return "a label does not start or end with '-'" }
        }
        if let last = labels.last, last.allSatisfy(\.isNumber) { return "the last label is not all digits" }
        return nil
    }
}
