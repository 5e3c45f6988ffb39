import Foundation
import HTTPTypes
import Hummingbird
import MCP

/// `/mcp`: the Model Context Protocol over the streamable HTTP transport, bridged from
/// Hummingbird to the SDK's transport. `AuthMiddleware` has checked the key (401 before any MCP
/// handling); `initialize` without `Mcp-Session-Id` opens a session owned by that key's user,
/// every other request names its session, which only that user reaches (404 otherwise, as for
/// an unknown or ended session: per the spec the client then starts a new one). `POST` carries
/// JSON-RPC messages (an SSE stream answers each request), `GET` opens the session's stream of
/// server-to-client messages, `DELETE` ends the session.
struct MCPController {
    let sessions: MCPSessions
    /// The largest JSON-RPC message read, in bytes (413 beyond it).
    let maxBodyBytes: Int

    var endpoints: RouteCollection<AppRequestContext> {
        RouteCollection(context: AppRequestContext.self)
            .post(use: handle)
            .get(use: handle)
            .delete(use: handle)
    }

    static let sessionHeader = HTTPField.Name("Mcp-Session-Id")!

    @Sendable func handle(_ request: Request, context: AppRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let body = try await readBody(request)
        var headers = Self.headers(request.headers)
        // HTTP/1's `Host` lives in the request's authority, not its fields; tools build preview
        // links from it, as `PreviewLinks(request:)` does.
        if let authority = request.head.authority { headers["Host"] = authority }
        let message = MCP.HTTPRequest(method: request.method.rawValue, headers: headers, body: body, path: request.uri.path)
        let session: MCPSession
        var opened = false
        if let id = request.headers[Self.sessionHeader] {
            guard let found = await sessions.find(id: id, userID: identity.userID, bytes: body?.count ?? 0) else {
                return Self.response(.error(statusCode: 404, .invalidRequest("Not Found: no such session; send initialize to start one")))
            }
            session = found
        } else {
            guard request.method == .post, let body, Self.isInitialize(body) else {
                return Self.response(.error(
                    statusCode: 400, .invalidRequest("Bad Request: missing Mcp-Session-Id header; send initialize to start a session")))
            }
            session = try await sessions.open(userID: identity.userID, bytes: body.count)
            opened = true
        }
        let answer = await session.transport.handleRequest(message)
        if request.method == .delete, answer.statusCode == 200 {
            _ = session.end()
            await sessions.close(session)
            return Self.response(answer)
        }
        guard case .stream(let stream, let headers) = answer else {
            // An initialize the transport refused (a wrong Accept, a bad body) leaves no session.
            if session.end() || opened { await sessions.close(session) }
            return Self.response(answer)
        }
        // A GET stream lasts as long as the session: it does not keep the session busy (idle
        // sessions are closed, which ends it). A POST's stream ends with its request's answer.
        let ending = request.method == .get ? nil : MCPRequestEnd(session: session, sessions: sessions)
        if request.method == .get, session.end() { await sessions.close(session) }
        return Response(status: .ok, headers: Self.fields(headers), body: ResponseBody { writer in
            defer { ending?.finish() }
            for try await chunk in stream {
                session.sent(chunk.count)
                try await writer.write(ByteBuffer(data: chunk))
            }
            try await writer.finish(nil)
        })
    }

    /// The body, at most `maxBodyBytes` (413 beyond); nil when empty.
    private func readBody(_ request: Request) async throws -> Data? {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBodyBytes {
            throw HostError(.payloadTooLarge, "request body is \(length) bytes; the limit is \(maxBodyBytes)")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBodyBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw HostError(.payloadTooLarge, "request body is larger than the limit of \(maxBodyBytes) bytes")
        }
        return buffer.readableBytes == 0 ? nil : Data(buffer: buffer)
    }

    /// Whether the body is a JSON-RPC `initialize` request.
    static func isInitialize(_ body: Data) -> Bool {
        struct Probe: Decodable {
            let method: String?
            let id: MCP.ID?
        }
        guard let probe = try? JSONDecoder().decode(Probe.self, from: body) else { return false }
        return probe.method == "initialize" && probe.id != nil
    }

    static func headers(_ fields: HTTPFields) -> [String: String] {
        var headers: [String: String] = [:]
        // The key (and any cookie) stays here: the SDK keeps requests, and may log them.
        for field in fields where field.name != .authorization && field.name != .cookie {
            let name = field.name.canonicalName
            headers[name] = headers[name].map { $0 + ", " + field.value } ?? field.value
        }
        return headers
    }

    static func fields(_ headers: [String: String]) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in headers {
            if let name = HTTPField.Name(name) { fields[name] = value }
        }
        return fields
    }

    /// A transport answer without a stream, as a response.
    static func response(_ answer: MCP.HTTPResponse) -> Response {
        let status = HTTPTypes.HTTPResponse.Status(code: answer.statusCode)
        guard let data = answer.bodyData else { return Response(status: status, headers: fields(answer.headers)) }
        return Response(status: status, headers: fields(answer.headers), body: .init(byteBuffer: ByteBuffer(data: data)))
    }
}
