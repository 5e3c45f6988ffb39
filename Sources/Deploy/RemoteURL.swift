/// A git remote as given by a client, parsed strictly into the forms the contract accepts:
/// `https://`, `ssh://`, `git://` URLs, scp-style `user@host:path`, and — only when the operator
/// allow-lists them, which `RemotePolicy` decides — `http://`, `file://` and local paths.
/// Anything else git would accept (`ext::`, `foo::bar` helpers, options in disguise, odd
/// authorities that curl and we might read differently) is refused here.
///
/// Credentials in it (`https://user:token@…`) are used for the push and never shown: `redacted`
/// is what logs, errors and responses carry.
public struct RemoteURL: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case https, http, ssh, git
        /// `[user@]host:path`, which git treats as ssh.
        case scp
        case file
        /// A path on the host, absolute or relative.
        case local
    }

    public let raw: String
    public let kind: Kind
    /// The host name or address as written (lowercased; IPv6 without brackets); nil for local kinds.
    public let host: String?
    /// The port as written, if any.
    public let port: Int?
    /// The user information as written (`user` or `user:secret`), if any.
    let userInfo: String?
    /// The path: for URLs, from the `/` after the authority; for scp-style, after the `:`; for
    /// `file://` and local paths, the file system path.
    public let path: String

    public init(_ raw: String) throws {
        guard !raw.isEmpty, raw.utf8.count <= 2048, !raw.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw DeployError("remote_url must be a git URL of at most 2048 bytes, without control characters")
        }
        // An option in disguise (`--upload-pack=…`) runs programs.
        guard !raw.hasPrefix("-") else { throw DeployError("remote_url must not start with '-'") }
        self.raw = raw
        if let schemeEnd = raw.range(of: "://") {
            let scheme = String(raw[..<schemeEnd.lowerBound])
            guard let kind = Kind(rawValue: scheme), kind != .scp, kind != .local else {
                throw DeployError("remote_url must be an https://, ssh:// or git:// URL or scp-style user@host:path")
            }
            self.kind = kind
            let rest = raw[schemeEnd.upperBound...]
            let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
            let authority = rest[..<authorityEnd]
            if kind == .file {
                // `file:///path` or `file://localhost/path`; nothing else names this host.
                guard authority.isEmpty || authority.lowercased() == "localhost", authorityEnd != rest.endIndex else {
                    throw DeployError("a file:// remote_url must be file:///absolute/path")
                }
                (host, port, userInfo, path) = (nil, nil, nil, String(rest[authorityEnd...]))
                return
            }
            let parsed = try Self.authority(authority, allowsPort: true)
            (host, port, userInfo) = (parsed.host, parsed.port, parsed.userInfo)
            path = String(rest[authorityEnd...])
            guard !path.contains("\\"), !path.unicodeScalars.contains(where: { $0 == " " }) else {
                throw DeployError("remote_url's path must not contain spaces or backslashes")
            }
            return
        }
        // git's own rule: a `:` before the first `/` makes it scp-style ssh, else it is a path.
        let colon = raw.firstIndex(of: ":")
        let slash = raw.firstIndex(of: "/")
        if let colon, slash.map({ colon < $0 }) ?? true {
            // `word::address` is a remote helper (`ext::sh -c …`): never.
            guard !raw[colon...].hasPrefix("::") else { throw DeployError("remote_url must not name a git remote helper ('::')") }
            var authority = raw[..<colon]
            var rest = raw[raw.index(after: colon)...]
            // `user@[::1]:path`: the bracketed host holds colons.
            if let open = authority.firstIndex(of: "["), !authority.contains("]") {
                guard let close = raw[open...].firstIndex(of: "]"), raw.index(after: close) < raw.endIndex,
                      raw[raw.index(after: close)] == ":" else {
                    throw DeployError("remote_url is not a valid scp-style user@host:path")
                }
                authority = raw[..<raw.index(after: close)]
                rest = raw[raw.index(close, offsetBy: 2)...]
            }
            let parsed = try Self.authority(authority, allowsPort: false)
            guard !rest.isEmpty, !rest.hasPrefix("-"), !rest.contains("\\") else {
                throw DeployError("remote_url is not a valid scp-style user@host:path")
            }
            (kind, host, port, userInfo, path) = (.scp, parsed.host, nil, parsed.userInfo, String(rest))
            return
        }
        (kind, host, port, userInfo, path) = (.local, nil, nil, nil, raw)
    }

    /// The URL without its user information.
    public var redacted: String { Self.redact(raw) }

    /// The host for messages: a name or address, never user information.
    public var displayHost: String { host.map { $0.contains(":") ? "[\($0)]" : $0 } ?? "this host" }

    /// The port git connects to: the one written, else the scheme's.
    public var effectivePort: Int {
        if let port { return port }
        switch kind {
        case .https: return 443
        case .http: return 80
        case .git: return 9418
        case .ssh, .scp: return 22
        case .file, .local: return 0
        }
    }

    /// `[userinfo@]host[:port]`, strictly: a DNS name or an address, no percent-encoding, no
    /// characters two URL parsers could disagree on.
    private static func authority(_ text: Substring, allowsPort: Bool) throws -> (host: String, port: Int?, userInfo: String?) {
        var rest = text
        var userInfo: String?
        if let at = rest.lastIndex(of: "@") {
            let user = rest[..<at]
            let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()*+,;=:")
            // git hands `user@host` to ssh as one argument: a leading `-` would be an option.
            guard !user.isEmpty, !user.hasPrefix("-"), user.allSatisfy({ allowed.contains($0) }) else {
                throw DeployError("remote_url's user information has characters a URL does not allow there")
            }
            userInfo = String(user)
            rest = rest[rest.index(after: at)...]
        }
        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw DeployError("remote_url has an unclosed '[' in its host") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw DeployError("remote_url has text after its host's ']'") }
                portText = after.dropFirst()
            }
            guard IPAddress(String(host))?.isIPv6 == true else { throw DeployError("remote_url's bracketed host must be an IPv6 address") }
        } else if let colon = rest.firstIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        var port: Int?
        if let portText {
            guard allowsPort, let value = Int(portText), portText.allSatisfy(\.isASCII), (1...65535).contains(value) else {
                throw DeployError("remote_url's port must be a number from 1 to 65535")
            }
            port = value
        }
        let name = host.lowercased()
        if !name.contains(":") {
            let labels = name.split(separator: ".", omittingEmptySubsequences: false)
            let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-")
            guard !name.isEmpty, name.utf8.count <= 253, !name.hasPrefix("-"),
                  labels.allSatisfy({ !$0.isEmpty && $0.count <= 63 && $0.allSatisfy { allowed.contains($0) } }) else {
                throw DeployError("remote_url's host must be a DNS name or an IP address")
            }
            // `2130706433`, `0x7f.1`, `0177.0.0.1`: resolvers and curl read these as addresses; we
            // accept only the plain dotted form, so what we check is what they connect to.
            if labels.last.map({ $0.first!.isNumber }) == true, IPAddress(name) == nil {
                throw DeployError("remote_url's host \(name) looks like an address: write it as a.b.c.d")
            }
        }
        return (name, port, userInfo)
    }

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
