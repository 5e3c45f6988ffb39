/// An app's `Set-Cookie`, confined to its own preview before it reaches the browser.
///
/// Path-based previews share the API's host: a cookie there is forced under the preview's own
/// path (`Path=/x` becomes `Path=/preview/{id}/{port}/x`), so it is never sent to the API, the
/// interface or another preview. Host-based previews are siblings under one preview domain (one
/// site): a `Domain` attribute would share the cookie with every other tenant's preview, so it
/// is removed and the cookie stays host-only. A cookie named like our preview grant is dropped,
/// in either form: an app must not plant or overwrite the grant of any preview.
enum UpstreamCookie {
    /// The `Set-Cookie` value to pass on, or nil to drop it.
    static func confined(_ value: String, to target: PreviewTarget) -> String? {
        var parts = value.split(separator: ";", omittingEmptySubsequences: false).map { $0.trimmingSpaces }
        guard let pair = parts.first else { return nil }
        // `name=value`, or a bare `value` (a cookie with an empty name): drop both when they
        // could read as ours.
        if pair.lowercased().hasPrefix(PreviewCookie.prefix) { return nil }
        parts.removeFirst()
        var path: Substring?
        var kept: [Substring] = []
        for attribute in parts where !attribute.isEmpty {
            let name = attribute.prefix { $0 != "=" }.trimmingSpaces.lowercased()
            if name == "domain" { continue }
            if target.form == .path && name == "path" {
                // The last `Path` wins in browsers (RFC 6265 §5.3 step 6).
                path = attribute.drop { $0 != "=" }.dropFirst().trimmingSpaces
                continue
            }
            kept.append(attribute)
        }
        if target.form == .path {
            // Without a valid path the browser would take the request's directory, already under
            // the prefix; naming it keeps the rule in one place.
            let own = path.flatMap { $0.hasPrefix("/") ? $0 : nil } ?? "/"
            kept.append(Substring("Path=\(target.prefix)\(own)"))
        }
        return ([pair] + kept).joined(separator: "; ")
    }
}

extension Substring {
    /// Without the spaces and tabs around it (cookie syntax allows both).
    fileprivate var trimmingSpaces: Substring {
        var slice = drop { $0 == " " || $0 == "\t" }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return slice
    }
}
