import HTTPTypes
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import SandboxRuntime
#if canImport(Glibc)
import Glibc
#endif

/// WebSocket upgrades of preview URLs (a dev server's hot reload): the handshake is made with the
/// app first, on a socket inside the sandbox; only if the app accepts does the client get its
/// `101`, with the subprotocol the app chose. Then frames are relayed both ways until either side
/// closes. Anything else (not a preview, no access, the app refuses) is left to the HTTP path,
/// which answers it as an ordinary request (404 without access).
enum PreviewWebSocket {
    typealias Handler = WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>

    static func shouldUpgrade(_ request: HTTPRequest, services: HostServices, logger: Logger) async -> ShouldUpgradeResult<Handler> {
        let host = request.authority ?? request.headerFields[AppsHostMiddleware.hostField]
        let uri = request.path ?? "/"
        guard let target = PreviewTarget.parse(host: host, uri: uri, domain: services.configuration.previewDomain) else { return .dontUpgrade }
        guard originAllowed(request.headerFields[.origin], host: host) else {
            logger.debug("preview websocket refused: a page of another origin", metadata: ["origin": "\(request.headerFields[.origin] ?? "")"])
            return .dontUpgrade
        }
        let decision: PreviewAccess.Decision
        do {
            decision = try await PreviewAccess(sandboxes: services.sandboxes, authenticator: services.authenticator).check(target, uri: uri, headers: request.headerFields)
        } catch {
            logger.debug("preview websocket refused", metadata: ["error": "\(error)"])
            return .dontUpgrade
        }
        guard let initProcess = await services.runtime.initProcessDescriptor(decision.record.id) else {
            logger.debug("preview websocket: sandbox not running")
            return .dontUpgrade
        }
        defer { close(initProcess) }
        services.runtime.touch(decision.record.id)
        let port = target.port
        do {
            let fd = try await SandboxRuntime.connectInside(
                initProcess: initProcess, port: port, timeout: services.configuration.previewConnectTimeout)
            let head = upstreamHead(request, target: target, publicHost: host ?? "localhost", dropAuthorization: decision.dropAuthorization)
            guard let (upstream, subprotocol) = try await connect(fd: fd, head: head) else {
                logger.debug("preview websocket: the app refused the upgrade")
                return .dontUpgrade
            }
            var headers = HTTPFields()
            if let subprotocol { headers[.secWebSocketProtocol] = subprotocol }
            return .upgrade(headers) { inbound, outbound, _ in
                try await relay(upstream, inbound: inbound, outbound: outbound)
            }
        } catch {
            logger.debug("preview websocket not upgraded", metadata: ["error": "\(error)"])
            return .dontUpgrade
        }
    }

    /// A WebSocket handshake carries the page's `Origin` and, unlike `fetch`, no CORS check reads
    /// it for us: a page on a sibling preview host (another tenant's app, the same site, so this
    /// preview's `SameSite=Lax` cookie goes along) could talk to this app as its user. Only the
    /// preview's own origin may upgrade, or a client that sends no `Origin` (not a browser). A
    /// sandboxed page (a path-based preview) sends `null` and is refused like any other.
    static func originAllowed(_ origin: String?, host: String?) -> Bool {
        guard let origin else { return true }
        guard let host, let mark = origin.range(of: "://") else { return false }
        func authority(_ text: Substring) -> Substring {
            for port in [":80", ":443"] where text.hasSuffix(port) { return text.dropLast(port.count) }
            return text
        }
        return authority(Substring(origin[mark.upperBound...].lowercased())) == authority(Substring(host.lowercased()))
    }

    /// The app's side of the handshake (`PreviewHeaders`); the upgrader adds the WebSocket headers.
    static func upstreamHead(_ request: HTTPRequest, target: PreviewTarget, publicHost: String, dropAuthorization: Bool) -> HTTPRequestHead {
        let headers = PreviewHeaders.forApp(
            request.headerFields, target: target, publicHost: publicHost, dropAuthorization: dropAuthorization, webSocket: true)
        return HTTPRequestHead(version: .http1_1, method: .GET, uri: PreviewCookie.removingToken(target.upstreamPath), headers: headers)
    }

    enum Upgrade: Sendable {
        case websocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, String?)
        case refused
    }

    /// The WebSocket handshake with the app over the connected socket; nil when it refuses.
    static func connect(fd: Int32, head: HTTPRequestHead) async throws -> (NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, String?)? {
        let negotiated: EventLoopFuture<Upgrade> = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .withConnectedSocket(fd) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let upgrader = NIOTypedWebSocketClientUpgrader<Upgrade>(maxFrameSize: 1 << 24) { channel, response in
                        channel.eventLoop.makeCompletedFuture {
                            let frames = try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(wrappingChannelSynchronously: channel)
                            return .websocket(frames, response.headers.first(name: "Sec-WebSocket-Protocol"))
                        }
                    }
                    let configuration = NIOTypedHTTPClientUpgradeConfiguration<Upgrade>(
                        upgradeRequestHead: head, upgraders: [upgrader],
                        notUpgradingCompletionHandler: { channel in
                            channel.close(promise: nil)
                            return channel.eventLoop.makeSucceededFuture(.refused)
                        })
                    return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                        configuration: .init(upgradeConfiguration: configuration))
                }
            }
        switch try await negotiated.get() {
        case .websocket(let channel, let subprotocol): return (channel, subprotocol)
        case .refused: return nil
        }
    }

    /// Frames both ways until either side closes. Data frames (text, binary, continuation) pass
    /// as they are, masked toward the app as a client must; the app's pings are answered here.
    static func relay(
        _ upstream: NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter
    ) async throws {
        enum Ended: Sendable { case client, app, waited }
        try await upstream.executeThenClose { fromApp, toApp in
            try await withThrowingTaskGroup(of: Ended.self) { group in
                group.addTask {
                    for try await frame in inbound {
                        let opcode: WebSocketOpcode = switch frame.opcode {
                        case .text: .text
                        case .binary: .binary
                        case .continuation: .continuation
                        }
                        try await toApp.write(WebSocketFrame(fin: frame.fin, opcode: opcode, maskKey: .random(), data: frame.data))
                    }
                    var status = ByteBuffer()
                    status.writeInteger(UInt16(1000))
                    try? await toApp.write(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: status))
                    return .client
                }
                group.addTask {
                    for try await frame in fromApp {
                        switch frame.opcode {
                        case .text, .binary, .continuation:
                            try await outbound.write(.custom(WebSocketFrame(fin: frame.fin, opcode: frame.opcode, data: frame.unmaskedData)))
                        case .ping:
                            try await toApp.write(WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData))
                        case .connectionClose:
                            return .app
                        default:
                            continue
                        }
                    }
                    return .app
                }
                // The client closed: let the app answer its close frame (a closing handshake)
                // before the connection goes, for a second at most.
                if try await group.next() == .client {
                    group.addTask {
                        try await Task.sleep(for: .seconds(1))
                        return .waited
                    }
                    _ = try await group.next()
                }
                group.cancelAll()
            }
        }
    }
}
