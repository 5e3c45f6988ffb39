import HTTPTypes
import Hummingbird

/// The URLs a client is given for a preview: host-based (the app at its own origin, what a
/// browser should open) and path-based, each carrying the sandbox's preview token once.
struct PreviewLinks {
    let domain: String
    /// The port clients reach the host on, from the API request's `Host` (else the configured one).
    let publicPort: Int
    let scheme = "http"

    init(request: Request, configuration: HostConfiguration) {
        domain = configuration.previewDomain
        let host = request.head.authority ?? request.headers[AppsHostMiddleware.hostField] ?? ""
        if let colon = host.lastIndex(of: ":"), let port = Int(host[host.index(after: colon)...]) {
            publicPort = port
        } else {
            publicPort = configuration.port
        }
        apiHost = host.isEmpty ? "127.0.0.1:\(configuration.port)" : host
    }

    let apiHost: String

    func hostURL(sandboxID: String, port: Int, token: String) -> String {
        "\(scheme)://\(port)-\(sandboxID).\(domain):\(publicPort)/?\(PreviewCookie.queryName)=\(token)"
    }

    func pathURL(sandboxID: String, port: Int, token: String) -> String {
        "\(scheme)://\(apiHost)/preview/\(sandboxID)/\(port)/?\(PreviewCookie.queryName)=\(token)"
    }

    func expoURL(sandboxID: String, token: String) -> String {
        "exp://8081-\(sandboxID).\(domain):\(publicPort)?\(PreviewCookie.queryName)=\(token)"
    }
}
