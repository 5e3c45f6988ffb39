import HTTPTypes
import NIOHTTP1

/// The headers an app behind a preview receives: the client's, without hop-by-hop headers, any
/// forwarding headers the client made up, our API key or our cookies; with the app's own `Host`
/// (`localhost:PORT`, so dev servers' host checks pass) and `X-Forwarded-Host/Proto` (and
/// `-Prefix` for the path form). HTTP requests and WebSocket handshakes both use it.
enum PreviewHeaders {
    /// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade",
    ]

    /// Any word of an `Authorization` value is one of our API keys (whatever its scheme, or a
    /// second field beside the app's own): the app never sees it.
    static func carriesAPIKey(_ value: String) -> Bool {
        value.split { $0 == " " || $0 == "," || $0 == "\t" }.contains { APIKey.parse(String($0)) != nil }
    }

    static func forApp(_ fields: HTTPFields, target: PreviewTarget, publicHost: String, dropAuthorization: Bool, webSocket: Bool = false) -> HTTPHeaders {
        var headers = HTTPHeaders()
        for field in fields {
            let name = field.name.canonicalName
            if hopByHop.contains(name) || name == "host" || name.hasPrefix("x-forwarded-") || name == "forwarded" { continue }
            // The WebSocket client upgrader writes its own key and version; the subprotocol passes.
            if webSocket && name.hasPrefix("sec-websocket-") && name != "sec-websocket-protocol" { continue }
            if name == "authorization" && (dropAuthorization || carriesAPIKey(field.value)) { continue }
            if name == "cookie" {
                let kept = PreviewCookie.strip(field.value)
                if !kept.isEmpty { headers.add(name: "Cookie", value: kept) }
                continue
            }
            headers.add(name: field.name.rawName, value: field.value)
        }
        headers.add(name: "Host", value: "localhost:\(target.port)")
        headers.add(name: "X-Forwarded-Host", value: publicHost)
        headers.add(name: "X-Forwarded-Proto", value: "http")
        if target.form == .path { headers.add(name: "X-Forwarded-Prefix", value: target.prefix) }
        return headers
    }
}
