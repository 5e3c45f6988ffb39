/// The preview token's cookie and query parameter: a preview URL carries `?preview_token=…`
/// once; the host answers with a cookie scoped to that preview (its own host, or its path) and
/// a redirect to the same URL without the token, so neither reaches the app.
enum PreviewCookie {
    static let queryName = "preview_token"
    static let prefix = "sbx_preview_"

    static func name(_ sandboxID: String) -> String { prefix + sandboxID.replacingOccurrences(of: "-", with: "_") }

    /// The `Set-Cookie` values for a target. A host-based preview is another site than the
    /// interface that frames it, and browsers set no `SameSite=Lax` cookie in a cross-site frame:
    /// it also gets a `Partitioned` one (`SameSite=None` needs `Secure`, which browsers accept
    /// on `*.localhost` and HTTPS; elsewhere it is refused and the first still serves a top-level
    /// page). Partitioned, it is only sent under the top-level site it was set beneath: a site
    /// that frames the preview without the token gets none. Path-based previews are the API's
    /// own site: the first is enough.
    static func setCookies(_ target: PreviewTarget, token: String) -> [String] {
        let lax = "\(name(target.sandboxID))=\(token); Path=\(target.form == .path ? target.prefix + "/" : "/"); HttpOnly; SameSite=Lax"
        guard target.form == .host else { return [lax] }
        return [lax, "\(name(target.sandboxID))=\(token); Path=/; HttpOnly; Secure; SameSite=None; Partitioned"]
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
