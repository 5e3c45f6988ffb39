import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import SandboxRuntime

/// WebSocket upgrades of `/api/sandboxes/{sandbox_id}/pty/{pty_id}/ws`: a terminal's screen.
///
/// The key (`Authorization: Bearer`, or `?token=` since browsers cannot set headers on a
/// WebSocket) and the ownership of the sandbox and terminal are checked before the upgrade;
/// a refusal is answered with the contract's JSON error (401, or 404 for another user's sandbox
/// or terminal, exactly as for a missing one) and the connection closed, never upgraded.
/// Preview hosts and deployment sites never reach this: their requests are theirs.
///
/// Once upgraded: the scrollback first, then output as binary frames; binary frames in, and
/// text frames in that are not a resize, are keyboard input; `{"type":"resize","cols","rows"}`
/// resizes; at the process's exit, `{"type":"exit","exit_code":N}` and a close. A client whose
/// write has not completed for `stallTimeout` (it stopped reading) is disconnected.
enum TerminalWebSocket {
    typealias Handler = WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>

    static let stallTimeout: Duration = .seconds(5)

    struct Route: Equatable {
        let sandboxID: String
        let terminalID: String
        let token: String?
    }

    /// The terminal a request's path names, unless its host is a preview's or a site's.
    static func route(_ request: HTTPRequest, previewDomain: String) -> Route? {
        let host = request.authority ?? request.headerFields[AppsHostMiddleware.hostField]
        let uri = URI(request.path ?? "/")
        if let host, PreviewTarget.parseHost(host, domain: previewDomain) != nil || AppsHostMiddleware.projectID(host: host) != nil {
            return nil
        }
        let parts = uri.path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 7, parts[0].isEmpty, parts[1] == "api", parts[2] == "sandboxes", parts[4] == "pty", parts[6] == "ws",
              !parts[3].isEmpty, !parts[5].isEmpty
        else { return nil }
        return Route(sandboxID: String(parts[3]), terminalID: String(parts[5]), token: QueryParameters(uri.query)["token"])
    }

    /// Nil when the request is not a terminal's (the caller goes on to previews).
    static func shouldUpgrade(
        _ request: HTTPRequest, channel: any Channel, services: HostServices, logger: Logger
    ) async -> ShouldUpgradeResult<Handler>? {
        guard let route = route(request, previewDomain: services.configuration.previewDomain) else { return nil }
        let presented = request.headerFields[.authorization] != nil ? AuthMiddleware.bearer(request.headerFields) : route.token
        guard let presented, !presented.isEmpty else {
            await refuse(channel, HostError(.unauthorized, "missing API key: send Authorization: Bearer <api-key> or ?token=", bearerChallenge: true))
            return .dontUpgrade
        }
        do {
            guard let identity = try await services.authenticator.authenticate(presented) else {
                await refuse(channel, HostError(.unauthorized, "invalid or revoked API key", bearerChallenge: true))
                return .dontUpgrade
            }
            guard let record = try await services.sandboxes.get(id: route.sandboxID, userID: identity.userID) else {
                await refuse(channel, HostError.notFound("sandbox"))
                return .dontUpgrade
            }
            guard let entry = await services.terminals.existing(for: record.id)?.entry(route.terminalID) else {
                await refuse(channel, HostError.notFound("terminal"))
                return .dontUpgrade
            }
            services.runtime.touch(record.id)
            return .upgrade([:]) { inbound, outbound, _ in
                await session(entry, inbound: inbound, outbound: outbound, disconnect: { channel.close(promise: nil) })
            }
        } catch {
            logger.error("terminal websocket: lookup failed", metadata: ["error": "\(error)"])
            await refuse(channel, HostError(.internalError, "internal error"))
            return .dontUpgrade
        }
    }

    /// Answers the upgrade request with `error`'s status and body, then closes the connection's
    /// output: hummingbird-websocket would answer any refusal with an empty 400 (its later write
    /// finds the output closed).
    static func refuse(_ channel: any Channel, _ error: HostError) async {
        let body = (try? JSONEncoder().encode(ErrorBody(detail: error.message, code: error.code.apiCode))) ?? Data("{}".utf8)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Connection", value: "close")
        if error.bearerChallenge { headers.add(name: "WWW-Authenticate", value: "Bearer") }
        let status = HTTPResponseStatus(statusCode: error.code.status.code)
        let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
        try? await channel.writeAndFlush(HTTPServerResponsePart.end(nil)).get()
        // Only our side: the library's own refusal (an empty 400) then finds the output closed,
        // and it closes the connection as it ends. Closing all of it here would make the
        // library log the unfinished upgrade as an error.
        try? await channel.close(mode: .output).get()
    }

    enum Ended: Sendable { case exited, clientClosed, stalled, failed }

    /// One attached client, until the process exits, the client closes, or it stops reading.
    /// `disconnect` closes the connection outright: a client that stopped reading would never
    /// take the close frame either, and the library's closing handshake would wait on it.
    static func session(
        _ entry: TerminalEntry, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, disconnect: @escaping @Sendable () -> Void
    ) async {
        guard let client = entry.hub.attach() else {
            try? await outbound.close(.init(codeNumber: 1013), reason: "too many clients on this terminal")
            return
        }
        let hub = entry.hub
        let terminal = entry.terminal
        await withTaskGroup(of: Ended.self) { group in
            group.addTask {
                do {
                    while let next = await client.next() {
                        switch next {
                        case .output(let bytes):
                            client.writing(true)
                            try await outbound.write(.binary(ByteBuffer(bytes: bytes)))
                            client.writing(false)
                            hub.resumeIfDrained()
                        case .exit(let code):
                            try await outbound.write(.text(#"{"type":"exit","exit_code":\#(code)}"#))
                            try await outbound.close(.normalClosure, reason: nil)
                            return .exited
                        }
                    }
                } catch {
                    return .failed
                }
                return .failed
            }
            group.addTask {
                do {
                    for try await frame in inbound {
                        if frame.opcode == .text, frame.fin, let control = resize(frame.data) {
                            if let size = control { try? await terminal.resize(size) }
                        } else {
                            // False once the process has exited: its exit frame is on its way.
                            _ = await terminal.write(frame.data.getBytes(at: frame.data.readerIndex, length: frame.data.readableBytes) ?? [])
                        }
                    }
                } catch {}
                return .clientClosed
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(500))
                    if client.stalled(after: stallTimeout) { return .stalled }
                }
                return .failed
            }
            let ended = await group.next()
            // Ends the writer's wait for output; a write in progress ends with the cancel.
            hub.detach(client)
            if ended == .stalled { disconnect() }
            group.cancelAll()
        }
    }

    /// A resize message, `{"type":"resize","cols":N,"rows":N}`: `.some(size)`, or `.some(nil)`
    /// when a size is out of range (ignored); nil for anything else, which is input.
    static func resize(_ data: ByteBuffer) -> TerminalSize?? {
        guard data.readableBytes < 256, data.getInteger(at: data.readerIndex, as: UInt8.self) == UInt8(ascii: "{") else { return nil }
        struct Message: Decodable {
            let type: String
            let cols: Int
            let rows: Int
        }
        let bytes = data.getBytes(at: data.readerIndex, length: data.readableBytes) ?? []
        guard let message = try? JSONDecoder().decode(Message.self, from: Data(bytes)), message.type == "resize" else { return nil }
        let size = TerminalSize(columns: message.cols, rows: message.rows)
        return .some(size.isValid ? size : nil)
    }
}
