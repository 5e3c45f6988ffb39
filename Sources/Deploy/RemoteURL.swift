/// A git remote as given by a client; any URL git accepts. Credentials in it (`https://user:token@…`)
/// are used for the push and never shown: `redacted` is what logs, errors and responses carry.
public struct RemoteURL: Sendable, Equatable {
    public let raw: String

    public init(_ raw: String) throws {
        guard !raw.isEmpty, raw.utf8.count <= 2048, !raw.utf8.contains(where: { $0 < 0x20 }) else {
            throw DeployError("remote_url must be a URL git accepts, without control characters")
        }
        // An option in disguise (`--upload-pack=…`) or a local helper (`ext::`) runs programs.
        guard !raw.hasPrefix("-"), !raw.lowercased().hasPrefix("ext::") else {
            throw DeployError("remote_url is not an acceptable git remote")
        }
        self.raw = raw
    }

    /// The URL without its user information.
    public var redacted: String { Self.redact(raw) }

    /// `scheme://user:secret@host/…` → `scheme://***@host/…`, anywhere in `text`.
    public static func redact(_ text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let scheme = rest.range(of: "://") {
            result += rest[..<scheme.upperBound]
            rest = rest[scheme.upperBound...]
            let authorityEnd = rest.firstIndex { $0 == "/" || $0 == " " || $0 == "\n" || $0 == "'" || $0 == "\"" } ?? rest.endIndex
            if let at = rest[..<authorityEnd].lastIndex(of: "@") {
                result += "***@"
                rest = rest[rest.index(after: at)...]
            }
        }
        return result + rest
    }
}
