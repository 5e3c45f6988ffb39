/// Which sandbox and port a preview request is for, and the path to ask it for.
///
/// Host-based: `{port}-{sandbox_id}.{domain}[:PORT]`; path-based: `/preview/{sandbox_id}/{port}/…`.
/// Anything that does not parse exactly is not a preview request.
struct PreviewTarget: Equatable, Sendable {
    enum Form: Equatable, Sendable { case host, path }

    let sandboxID: String
    let port: Int
    let form: Form
    /// The path and query to send upstream (`/` at least).
    let upstreamPath: String

    /// The prefix the app lives under on the client's side (`""` for host-based).
    var prefix: String { form == .path ? "/preview/\(sandboxID)/\(port)" : "" }

    static func parse(host: String?, uri: String, domain: String) -> PreviewTarget? {
        if let host, let target = parseHost(host, domain: domain) {
            return PreviewTarget(sandboxID: target.0, port: target.1, form: .host, upstreamPath: uri.isEmpty ? "/" : uri)
        }
        guard uri.hasPrefix("/preview/") else { return nil }
        let rest = uri.dropFirst("/preview/".count)
        let parts = rest.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2 else { return nil }
        var portText = parts[1]
        var query = ""
        if parts.count == 2, let mark = portText.firstIndex(of: "?") {
            query = String(portText[mark...])
            portText = portText[..<mark]
        }
        guard Self.validID(parts[0]), let port = Self.port(portText) else { return nil }
        let path = parts.count == 3 ? "/" + parts[2] : "/" + query
        return PreviewTarget(sandboxID: String(parts[0]), port: port, form: .path, upstreamPath: path)
    }

    static func parseHost(_ host: String, domain: String) -> (String, Int)? {
        var name = host.lowercased()
        if let colon = name.lastIndex(of: ":"), !name.hasSuffix("]") { name = String(name[..<colon]) }
        guard name.hasSuffix("." + domain) else { return nil }
        let label = name.dropLast(domain.count + 1)
        guard let dash = label.firstIndex(of: "-"), let port = Self.port(label[..<dash]) else { return nil }
        let id = label[label.index(after: dash)...]
        guard Self.validID(id) else { return nil }
        return (String(id), port)
    }

    static func port(_ text: Substring) -> Int? {
        guard (1...5).contains(text.count), text.allSatisfy(\.isASCII), let port = Int(text), (1...65535).contains(port) else { return nil }
        return port
    }

    static func validID(_ text: Substring) -> Bool {
        (1...64).contains(text.count) && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
    }
}
