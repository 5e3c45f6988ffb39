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

    /// The token in a `Cookie` header for this sandbox, if any.
    static func token(in header: String?, sandboxID: String) -> String? {
        guard let header else { return nil }
        let wanted = name(sandboxID)
        for pair in header.split(separator: ";") {
            let trimmed = pair.drop { $0 == " " }
            if trimmed.hasPrefix(wanted + "=") { return String(trimmed.dropFirst(wanted.count + 1)) }
        }
        return nil
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
