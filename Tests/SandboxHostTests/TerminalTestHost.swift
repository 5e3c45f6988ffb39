import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing
@testable import SandboxHost

/// The real HTTP server (with its WebSocket upgrade) in process on a free port, over a fresh
/// `TestHost` with one running sandbox, for the terminals' tests. Every socket a test opened
/// is closed afterwards (the server's graceful shutdown waits for open connections), and the
/// host is removed however the body ends.
final class TerminalTestHost: Sendable {
    let host: TestHost
    let client: any TestClientProtocol
    let port: Int
    let sandbox: String
    private let sockets = Mutex<[TerminalTestSocket]>([])

    var key: String { host.adminKey }

    private init(host: TestHost, client: any TestClientProtocol, port: Int, sandbox: String) {
        self.host = host
        self.client = client
        self.port = port
        self.sandbox = sandbox
    }

    static func run(
        configure: @escaping @Sendable (inout HostConfiguration) -> Void = { _ in },
        _ body: @Sendable (TerminalTestHost) async throws -> Void
    ) async throws {
        let host = try TestHost { configuration in
            configuration.port = 0
            configuration.rateLimitPerSecond = 0
            configure(&configuration)
        }
        defer { host.remove() }
        var logger = Logger(label: "terminal-test-host")
        logger.logLevel = .critical
        let app = HostApplication.build(services: host.services, logger: logger)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let (_, sandbox) = try await SandboxClient(client: client, key: host.adminKey).create()
            let scope = TerminalTestHost(host: host, client: client, port: port, sandbox: sandbox)
            do {
                try await body(scope)
            } catch {
                await scope.closeAll()
                throw error
            }
            await scope.closeAll()
        }
    }

    private func closeAll() async {
        for socket in sockets.withLock({ $0 }) { await socket.close() }
    }

    /// `POST …/pty` with `body`; answers the status and the JSON.
    func open(_ body: [String: Any] = [:], key: String? = nil, sandbox: String? = nil) async throws -> (status: HTTPResponse.Status, json: [String: Any]) {
        let data = try JSONSerialization.data(withJSONObject: body)
        return try await client.execute(
            uri: "/api/sandboxes/\(sandbox ?? self.sandbox)/pty", method: .post, headers: .bearer(key ?? self.key), body: ByteBuffer(data: data)
        ) { ($0.status, $0.json) }
    }

    /// Opens a terminal that must start; answers its id.
    func openTerminal(_ body: [String: Any] = [:]) async throws -> String {
        let (status, json) = try await open(body)
        try #require(status == .created, "POST pty: \(status) \(json)")
        return try #require(json["pty_id"] as? String)
    }

    func list(key: String? = nil) async throws -> (status: HTTPResponse.Status, ptys: [[String: Any]]) {
        try await client.execute(uri: "/api/sandboxes/\(sandbox)/pty", method: .get, headers: .bearer(key ?? self.key)) {
            ($0.status, $0.json["ptys"] as? [[String: Any]] ?? [])
        }
    }

    func delete(_ terminal: String, key: String? = nil) async throws -> (status: HTTPResponse.Status, json: [String: Any]) {
        try await client.execute(uri: "/api/sandboxes/\(sandbox)/pty/\(terminal)", method: .delete, headers: .bearer(key ?? self.key)) {
            ($0.status, $0.json)
        }
    }

    /// A WebSocket on the terminal, closed when the test ends.
    func connect(_ terminal: String, key: String? = nil, reading: Bool = true, queryToken: Bool = false) async throws -> TerminalTestSocket {
        let socket = try await TerminalTestSocket.connect(
            port: port, sandbox: sandbox, terminal: terminal, key: key ?? self.key, reading: reading, queryToken: queryToken)
        sockets.withLock { $0.append(socket) }
        return socket
    }

    /// What an upgrade request gets (with `key` as a Bearer header, or none): the raw answer,
    /// read until the server closes the connection (10 s at most).
    func upgradeAnswer(_ terminal: String, key: String?, sandbox: String? = nil, query: String = "") async throws -> String {
        let connection = try RawConnection(port: port)
        var request = "GET /api/sandboxes/\(sandbox ?? self.sandbox)/pty/\(terminal)/ws\(query) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
        request += "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        if let key { request += "Authorization: Bearer \(key)\r\n" }
        try connection.send(request + "\r\n")
        _ = await connection.waitClosed(timeout: .seconds(10))
        return connection.received
    }

    /// A WebSocket by hand (hummingbird's client can miss frames the server sends in the very
    /// packet after its 101): the handshake, then everything read for `duration` (or until the
    /// server closes), as text. Server frames are not masked, so their payloads read as sent.
    func rawWebSocket(_ terminal: String, for duration: Duration = .seconds(2)) async throws -> String {
        let connection = try RawConnection(port: port)
        var request = "GET /api/sandboxes/\(sandbox)/pty/\(terminal)/ws HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
        request += "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        request += "Authorization: Bearer \(key)\r\n\r\n"
        try connection.send(request)
        _ = await connection.waitClosed(timeout: duration)
        return connection.received
    }
}
