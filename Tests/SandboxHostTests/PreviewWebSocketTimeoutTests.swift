import Foundation
import Testing

extension HeavySuites.PreviewTests {
    @Test("a preview WebSocket quiet for longer than the header and idle timeouts stays open")
    func quietWebSocketOutlivesConnectionTimeouts() async throws {
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let host = try await HostProcess(dataDir: dataDir, environment: [
            "SANDBOX_HOST_HEADER_TIMEOUT_MS": "1000", "SANDBOX_HOST_CONNECTION_IDLE_TIMEOUT_MS": "1000",
        ])
        defer { Task { try? await host.stop() } }
        let key = try host.adminKey
        let (_, sandbox) = try await host.createSandbox(key: key)
        try await Self.serve(host, key: key, sandbox: sandbox, app: PreviewApps.node, file: "ws.js", command: "node ws.js 8003", port: 8003)
        let url = try await Self.previewURL(host, key: key, sandbox: sandbox, port: 8003)
        try #require(!url.isEmpty, "the node server never listened")
        let token = url.components(separatedBy: "preview_token=").last ?? ""
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("ws-\(UUID()).py").path
        try PreviewApps.webSocketClient.write(toFile: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: script) }
        let cookie = "sbx_preview_\(sandbox.replacingOccurrences(of: "-", with: "_"))=\(token)"
        let name = "8003-\(sandbox).preview.localhost:\(host.port)"
        let (status, output) = try Subprocess.run("/usr/bin/env", ["python3", script, String(host.port), name, "/hmr", cookie, "hello", "sleep:2.5", "again"])
        let lines = String(decoding: output, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(status == 0, "\(lines)")
        #expect(Array(lines.dropFirst(2)) == ["echo: hello", "echo: again"], "\(lines)")
    }
}
