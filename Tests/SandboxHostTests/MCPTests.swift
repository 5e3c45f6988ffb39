import AsyncHTTPClient
import Foundation
import NIOCore
import SandboxRuntime
import Testing

/// `/mcp` against the real binary: the official Python `mcp` client drives every tool (and the
/// refusals: a missing path, a traversal, another user's sandbox, a wrong key, a stolen session
/// id), and raw requests check the HTTP layer's bounds (sessions in number and idle time, body
/// size, a request without a session).
@Suite(.enabled(if: runningAsRoot, "sandboxes need root, as in CI"), .timeLimit(.minutes(2)))
struct MCPTests {
    /// Outside the test target's directory: SwiftPM warns about files it does not build.
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("tests/mcp_client.py").path

    /// Whether Python can import the official `mcp` package (`make test-deps` installs it).
    static let clientAvailable: Bool = (try? Subprocess.run("/usr/bin/env", ["python3", "-c", "import mcp.client.streamable_http"]).status) == 0

    static let initialize = #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#
    static let initialized = #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#

    /// One POST to `/mcp`; answers status, the `Mcp-Session-Id` answered and the body.
    static func post(
        _ host: HostProcess, key: String?, session: String? = nil, body: String, accept: String = "application/json, text/event-stream"
    ) async throws -> (status: Int, session: String?, body: String) {
        var request = HTTPClientRequest(url: host.baseURL + "/mcp")
        request.method = .POST
        request.headers.add(name: "Accept", value: accept)
        request.headers.add(name: "Content-Type", value: "application/json")
        if let key { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        if let session { request.headers.add(name: "Mcp-Session-Id", value: session) }
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(20))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), response.headers.first(name: "Mcp-Session-Id"), String(buffer: bytes))
    }

    static func newUser(_ dataDir: String, _ name: String) throws -> String {
        let created = try HostProcess.command(["users", "create", name, "--data-dir", dataDir])
        #expect(created.status == 0, "\(created.output)")
        return try #require(created.output.split(separator: "\n").last.map(String.init))
    }

    @Test(.enabled(if: clientAvailable, "the Python mcp package is not installed (make test-deps installs it)"))
    func pythonClientDrivesEveryToolAndIsRefusedWhereItShouldBe() async throws {
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let host = try await HostProcess(dataDir: dataDir)
        defer { Task { try? await host.stop() } }
        let (key, other) = (try host.adminKey, try Self.newUser(dataDir, "mallory"))
        let (status, output) = try await DedicatedThread.run("mcp client") {
            try Subprocess.run("/usr/bin/env", ["python3", Self.script, host.baseURL, key, other])
        }
        let text = String(decoding: output, as: UTF8.self)
        #expect(status == 0, "\(text.suffix(6000))\n--- host ---\n\(host.log.suffix(3000))")
        #expect(text.contains("all checks passed"))
        #expect(!host.log.contains("MCP tool failed"), "\(host.log.suffix(3000))")
    }

    @Test func sessionsAreBoundedInNumberAndIdleTimeAndOwnedByTheirKey() async throws {
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let host = try await HostProcess(dataDir: dataDir, environment: [
            "SANDBOX_HOST_MCP_MAX_SESSIONS": "2", "SANDBOX_HOST_MCP_SESSION_IDLE_SECONDS": "5", "SANDBOX_HOST_MCP_SESSION_MAX_MB": "1",
        ])
        defer { Task { try? await host.stop() } }
        let (key, other) = (try host.adminKey, try Self.newUser(dataDir, "mallory"))

        // The key first, at the HTTP layer.
        let wrong = try await Self.post(host, key: "sbx_wrong", body: Self.initialize)
        #expect(wrong.status == 401 && wrong.body.contains("UNAUTHORIZED"), "\(wrong)")
        #expect(try await Self.post(host, key: nil, body: Self.initialize).status == 401)
        // Nothing but initialize opens a session; bodies are bounded.
        let sessionless = try await Self.post(host, key: key, body: #"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#)
        #expect(sessionless.status == 400 && sessionless.session == nil, "\(sessionless)")
        let huge = try await Self.post(host, key: key, body: #"{"jsonrpc":"2.0","id":3,"method":"initialize","params":{"x":""# + String(repeating: "a", count: 2 << 20) + #""}}"#)
        #expect(huge.status == 413, "\(huge.status)")

        // An initialize the transport refuses (no text/event-stream in Accept) takes no place:
        // after the other key's refused ones, both places are still free for this key.
        for _ in 0..<3 {
            #expect(try await Self.post(host, key: other, body: Self.initialize, accept: "application/json").status == 406)
        }
        let first = try await Self.post(host, key: key, body: Self.initialize)
        #expect(first.status == 200 && first.body.contains("sandbox-host"), "\(first)")
        let firstID = try #require(first.session)
        #expect(firstID.count >= 32)
        let second = try #require(try await Self.post(host, key: key, body: Self.initialize).session)
        #expect(try await Self.post(host, key: other, session: firstID, body: Self.initialized).status == 404)
        // Full: another key has no session of its own to give up, and is refused.
        let refused = try await Self.post(host, key: other, body: Self.initialize)
        #expect(refused.status == 429 && refused.body.contains("RATE_LIMITED"), "\(refused)")
        // The owner's next session replaces its own least recently used one.
        #expect(try await Self.post(host, key: key, session: second, body: Self.initialized).status == 202)
        let third = try #require(try await Self.post(host, key: key, body: Self.initialize).session)
        #expect(try await Self.post(host, key: key, session: firstID, body: Self.initialized).status == 404)
        #expect(try await Self.post(host, key: key, session: second, body: Self.initialized).status == 202)
        #expect(try await Self.post(host, key: key, session: third, body: Self.initialized).status == 202)

        // Idle sessions are closed: after the idle time the other key gets its session, and the
        // idle ones are gone.
        try await Task.sleep(for: .milliseconds(6_000))
        let later = try await Self.post(host, key: other, body: Self.initialize)
        #expect(later.status == 200 && later.session != nil, "\(later)")
        #expect(try await Self.post(host, key: key, session: second, body: Self.initialized).status == 404)
        #expect(try await Self.post(host, key: key, session: third, body: Self.initialized).status == 404)

        // A session that has carried its budget (1 MiB here) is closed once its request is done:
        // what the SDK keeps of it for resumption stays bounded.
        let heavy = try #require(try await Self.post(host, key: key, body: Self.initialize).session)
        let bulky = #"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"write_file","arguments":{"sandbox_id":"none","path":"a","content":""#
            + String(repeating: "x", count: 600_000) + #""}}}"#
        let firstCall = try await Self.post(host, key: key, session: heavy, body: bulky)
        #expect(firstCall.status == 200 && firstCall.body.contains("NOT_FOUND"), "\(firstCall.status) \(firstCall.body.prefix(300))")
        #expect(try await Self.post(host, key: key, session: heavy, body: bulky).status == 200)
        #expect(try await Self.post(host, key: key, session: heavy, body: Self.initialized).status == 404)
    }
}
