/// Preview links for a caller that reached the host by `authority` (an MCP request's `Host`),
/// as `PreviewLinks(request:configuration:)` makes them for an HTTP route.
extension PreviewLinks {
    init(authority: String?, configuration: HostConfiguration) {
        let host = authority ?? ""
        domain = configuration.previewDomain
        if let colon = host.lastIndex(of: ":"), let port = Int(host[host.index(after: colon)...]) {
            publicPort = port
        } else {
            publicPort = configuration.port
        }
        apiHost = host.isEmpty ? "127.0.0.1:\(configuration.port)" : host
    }
}
