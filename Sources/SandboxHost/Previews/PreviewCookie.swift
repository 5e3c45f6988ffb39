/// The preview token's cookie and query parameter: a preview URL carries `?preview_token=…`
/// once; the host answers with a cookie scoped to that preview (its own host, or its path) and
/// a redirect to the same URL without the token, so neither reaches the app.
enum PreviewCookie {
    static let queryName = "preview_token"
    static let prefix = "sbx_preview_"

    static func name(_ sandboxID: String) -> String { prefix + sandboxID.replacingOccurrences(of: "-", with: "_") }

    /// The `Set-Cookie` value for a target.
    static func setCookie(_ target: PreviewTarget, token: String) -> String {
        "\(name(target.sandboxID))=\(token); Path=\(target.form == .path ? target.prefix + "/" : "/"); HttpOnly; SameSite=Lax"
    }

    /// Every value a `Cookie` header carries under this sandbox's cookie name. A page on a
    /// sibling preview host can set one for the whole preview domain from script
    /// (`document.cookie`, which no proxy sees); the browser sends both, so the real one must
    /// still count wherever it comes in the header.
    static func tokens(in header: String?, sandboxID: String) -> [String] {
        guard let header else { return [] }
        let wanted = name(sandboxID) + "="
        return header.split(separator: ";").map { $0.drop { $0 == " " } }.filter { $0.hasPrefix(wanted) }.map { String($0.dropFirst(wanted.count)) }
    }

    /// The `Cookie` header without any of our preview cookies (the app gets its own only).
    static func strip(_ header: String) -> String {
        header.split(separator: ";").map { $0.drop { $0 == " " } }.filter { !$0.hasPrefix(prefix) }.joined(separator: "; ")
    }

    /// The token in a path's query, if any.
    static func queryToken(_ uri: String) -> String? {
        guard let mark = uri.firstIndex(of: "?") else { return nil }
        for pair in uri[uri.index(after: mark)...].split(separator: "&") where pair.hasPrefix(queryName + "=") {
            return String(pair.dropFirst(queryName.count + 1))
        }
        return nil
    }

    /// The path and query without the token parameter.
    static func removingToken(_ uri: String) -> String {
        guard let mark = uri.firstIndex(of: "?") else { return uri }
        let kept = uri[uri.index(after: mark)...].split(separator: "&").filter { !$0.hasPrefix(queryName + "=") }
        return String(uri[..<mark]) + (kept.isEmpty ? "" : "?" + kept.joined(separator: "&"))
    }
}
