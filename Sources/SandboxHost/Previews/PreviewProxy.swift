import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import SandboxRuntime

/// Forwards one HTTP request to a port inside a sandbox and streams the answer back.
///
/// The connection is a socket made inside the sandbox's network namespace
/// (`SandboxRuntime.connectInside`), so nothing but that sandbox's loopback is reachable; the
/// connect holds no thread and gives up after `connectTimeout` (504). The
/// request body streams up before the answer is read (HTTP/1.1 as browsers use it); the answer's
/// body streams down through a `BodyRelay`, so memory stays flat for any size.
struct PreviewProxy: Sendable {
    /// How long the app may take to accept the connection (its backlog full: a stuck app).
    let connectTimeout: Duration
    let group: any EventLoopGroup

    struct Upstream: Sendable {
        /// A pidfd of the sandbox's PID 1, owned by the caller (closed after `forward` returns).
        let initProcess: Int32
        let target: PreviewTarget
        /// The client's `Host` (what the app should think it is served as).
        let publicHost: String
        /// Drop the client's `Authorization`: it carried our API key, not the app's.
        let dropAuthorization: Bool
    }

    func forward(_ request: Request, to upstream: Upstream, on eventLoop: (any EventLoop)? = nil) async throws -> Response {
        let port = upstream.target.port
        let fd = try await SandboxRuntime.connectInside(initProcess: upstream.initProcess, port: port, timeout: connectTimeout)
        let head = Self.upstreamHead(request, upstream)
        let relay = BodyRelay()
        let (heads, headContinuation) = AsyncThrowingStream<HTTPResponseHead, any Error>.makeStream()
        let group: any EventLoopGroup = eventLoop ?? self.group
        let task = Task {
            do {
                let channel = try await ClientBootstrap(group: group).withConnectedSocket(fd) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                    }
                }
                try await channel.executeThenClose { inbound, outbound in
                    try await outbound.write(.head(head))
                    for try await block in request.body { try await outbound.write(.body(.byteBuffer(block))) }
                    try await outbound.write(.end(nil))
                    var parts = inbound.makeAsyncIterator()
                    var answered = false
                    while let part = try await parts.next() {
                        switch part {
                        case .head(let responseHead):
                            // 1xx answers (100 Continue, 103 Early Hints) are not the response.
                            if responseHead.status.code < 200 { continue }
                            headContinuation.yield(responseHead)
                            headContinuation.finish()
                            answered = true
                        case .body(let block):
                            guard answered, await relay.send(block) else { return }
                        case .end:
                            if answered { relay.finish(); return }
                        }
                    }
                    relay.finish(HostError(.sandboxUnavailable, "the app closed the connection mid-answer"))
                    headContinuation.finish(throwing: HostError(.sandboxUnavailable, "the app closed the connection without answering"))
                }
            } catch {
                headContinuation.finish(throwing: error)
                relay.finish(error)
            }
        }
        let responseHead: HTTPResponseHead
        do {
            var iterator = heads.makeAsyncIterator()
            guard let first = try await withTaskCancellationHandler(operation: { try await iterator.next() }, onCancel: { task.cancel() }) else {
                throw HostError(.sandboxUnavailable, "the app closed the connection without answering")
            }
            responseHead = first
        } catch let error as HostError {
            task.cancel()
            throw error
        } catch {
            task.cancel()
            throw HostError(.sandboxUnavailable, "the app on port \(upstream.target.port) did not answer", cause: error)
        }
        var headers = HTTPFields()
        for (name, value) in responseHead.headers where !PreviewHeaders.hopByHop.contains(name.lowercased()) {
            guard let field = HTTPField.Name(name) else { continue }
            headers.append(HTTPField(name: field, value: name.lowercased() == "location" ? Self.rewriteLocation(value, upstream) : value))
        }
        headers = UserContentHeaders.fromApp(headers, target: upstream.target)
        let body = ResponseBody { writer in
            do {
                while let block = try await relay.next() { try await writer.write(block) }
            } catch {
                relay.cancel()
                task.cancel()
                throw error
            }
            try await writer.finish(nil)
        }
        return Response(status: HTTPResponse.Status(code: Int(responseHead.status.code), reasonPhrase: responseHead.status.reasonPhrase), headers: headers, body: body)
    }

    /// The request as the app should see it (`PreviewHeaders`), at its path without our token.
    static func upstreamHead(_ request: Request, _ upstream: Upstream) -> HTTPRequestHead {
        let headers = PreviewHeaders.forApp(
            request.headers, target: upstream.target, publicHost: upstream.publicHost, dropAuthorization: upstream.dropAuthorization)
        let method = HTTPMethod(rawValue: request.method.rawValue)
        return HTTPRequestHead(version: .http1_1, method: method, uri: PreviewCookie.removingToken(upstream.target.upstreamPath), headers: headers)
    }

    /// A redirect the app aims at itself (`http://localhost:3000/x`, `/x`) stays on the preview.
    static func rewriteLocation(_ location: String, _ upstream: Upstream) -> String {
        let port = upstream.target.port
        for origin in ["http://localhost:\(port)", "http://127.0.0.1:\(port)", "http://0.0.0.0:\(port)", "http://[::1]:\(port)"]
        where location == origin || location.hasPrefix(origin + "/") || location.hasPrefix(origin + "?") {
            let rest = String(location.dropFirst(origin.count))
            return "http://\(upstream.publicHost)\(upstream.target.prefix)\(rest.isEmpty ? "/" : rest)"
        }
        if upstream.target.form == .path, location.hasPrefix("/"), !location.hasPrefix("//"), !location.hasPrefix(upstream.target.prefix + "/") {
            return upstream.target.prefix + location
        }
        return location
    }
}
