import AgentLoop
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost

/// The dev-server routes through the real router and sandbox: choosing a command, the stream's
/// statuses and lines (several readers, resuming), ports, expo, and the agent's tools.
@Suite("Dev servers", .serialized)
struct DevServerTests {
    func start(_ agent: AgentClient, _ sandbox: String, _ body: String) async throws -> [String: Any] {
        let (status, json) = try await agent.post("/api/sandboxes/\(sandbox)/dev-server/start", body)
        #expect(status == .ok, "\(json)")
        return json
    }

    func stream(_ agent: AgentClient, _ sandbox: String, session: String = "dev_server_web", lastEventID: Int? = nil) async throws -> [SSEEvent] {
        var headers: HTTPFields = [:]
        if let lastEventID { headers[HTTPField.Name("Last-Event-ID")!] = String(lastEventID) }
        return AgentClient.parse(try await agent.get("/api/sandboxes/\(sandbox)/dev-server/stream?session_name=\(session)", headers: headers).text)
    }

    @Test("a command that prints and exits: every line, once each, to two readers at once; error on a failing exit; done; resume after a line", .hostWithSandbox)
    func streamLinesAndEnd() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let agent = AgentClient(client: client, key: host.adminKey)
        let sandbox = fixture.sandbox
        let started = try await start(agent, sandbox, #"{"command":"sleep 1; for i in $(seq 1 300); do echo line $i; done; printf 'no newline'; sleep 0.5; exit 3"}"#)
        #expect(started["detected"] as? Bool == false)
        #expect(started["port"] is NSNull)
        async let first = stream(agent, sandbox)
        async let second = stream(agent, sandbox)
        for events in [try await first, try await second] {
            let logs = events.filter { $0.type == "log" }.compactMap { $0.data["data"] as? String }
            #expect(logs == (1...300).map { "line \($0)" } + ["no newline"])
            let statuses = events.filter { $0.type == "status" }.compactMap { $0.data["status"] as? String }
            #expect(statuses == ["checking", "starting", "error"])
            #expect(events.last?.type == "done")
            #expect(!events.contains { $0.type == "preview_url" })
        }
        // After it ended: a replay, and a resume after the 100th line.
        let replay = try await stream(agent, sandbox)
        let ids = replay.filter { $0.type == "log" }.compactMap(\.id)
        // 300 lines and the last, partial one: every event has an id.
        #expect(ids.count == 301 && ids == ids.sorted() && Set(ids).count == 301)
        let resumed = try await stream(agent, sandbox, lastEventID: ids[99])
        let rest = resumed.filter { $0.type == "log" }.compactMap { $0.data["data"] as? String }
        #expect(rest.first == "line 101" && rest.count == 201)
        // `checking` came before line 100 (the client saw it); the end comes after.
        #expect(resumed.filter { $0.type == "status" }.compactMap { $0.data["status"] as? String } == ["error"])
        #expect(resumed.filter { $0.type != "ping" }.allSatisfy { $0.id != nil && $0.id! > ids[99] }, "\(resumed.map(\.id))")
    }

    @Test("without a command: index.html → a static server, found and previewed; nothing to run → 422; a missing session → stopped", .hostWithSandbox)
    func chooseCommand() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let agent = AgentClient(client: client, key: host.adminKey)
        let sandbox = fixture.sandbox
        let (status, refused) = try await agent.post("/api/sandboxes/\(sandbox)/dev-server/start", "{}")
        #expect(status == .unprocessableContent)
        #expect((refused["detail"] as? String)?.contains("no dev server found") == true)
        let missing = try await stream(agent, sandbox, session: "nothing")
        #expect(missing.map(\.type) == ["status", "status", "done"])

        let files = FileClient(client: client, key: host.adminKey, sandbox: sandbox)
        #expect(try await files.put("package.json", #"{"scripts":{"dev":"vite","build":"vite build"}}"#) == .ok)
        let node = try await start(agent, sandbox, #"{"port":5173}"#)
        #expect(node["command"] as? String == "npm install && npm run dev")
        #expect(node["detected"] as? Bool == true)
        _ = try await client.execute(uri: "/api/sandboxes/\(sandbox)/sessions/dev_server_web", method: .delete, headers: .bearer(host.adminKey)) { _ in }
        _ = try await client.execute(uri: "/api/sandboxes/\(sandbox)/files?path=package.json", method: .delete, headers: .bearer(host.adminKey)) { _ in }

        #expect(try await files.put("index.html", "<h1>static</h1>") == .ok)
        let chosen = try await start(agent, sandbox, #"{"port":8000}"#)
        #expect(chosen["command"] as? String == "python3 -m http.server 8000")
        let (_, json) = try await agent.post("/api/sandboxes/\(sandbox)/dev-server/start", #"{"port":70000}"#)
        #expect(json["code"] as? String == "VALIDATION_ERROR")
        var found: [String: Any] = [:]
        for _ in 0..<100 where found["status"] as? String != "available" {
            found = try await agent.get("/api/sandboxes/\(sandbox)/preview-url?port=8000").json
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(found["status"] as? String == "available")
        #expect((found["path_url"] as? String)?.contains("/preview/\(sandbox)/8000/?preview_token=") == true)
        #expect(try await agent.get("/api/sandboxes/\(sandbox)/preview-url?port=0").status == .unprocessableContent)
        let noExpo = try await agent.get("/api/sandboxes/\(sandbox)/expo-url").json
        #expect(noExpo["status"] as? String == "dev_server_not_running")
        #expect(noExpo["expo_url"] is NSNull)

        // Restarting the same session replaces the server (one listener, not two).
        _ = try await start(agent, sandbox, #"{"command":"python3 -m http.server 8081","port":8081}"#)
        var expo: [String: Any] = [:]
        for _ in 0..<100 where expo["status"] as? String != "available" {
            expo = try await agent.get("/api/sandboxes/\(sandbox)/expo-url").json
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect((expo["expo_url"] as? String)?.hasPrefix("exp://8081-\(sandbox).preview.localhost:") == true)
        #expect(try await agent.get("/api/sandboxes/\(sandbox)/preview-url?port=8000").json["status"] as? String == "dev_server_not_running")
    }

    @Test("the agent's start_dev_server and get_preview_url tools start a server and give its preview URL")
    func agentTools() async throws {
        let server = try await FakeModelServer.start(.openai, script: [
            .tools([("write_file", #"{"path":"index.html","content":"<p>agent site</p>"}"#)]),
            .tools([("start_dev_server", #"{"port":8000}"#)]),
            .tools([("shell", #"{"command":"for i in $(seq 1 50); do curl -s localhost:8000 >/dev/null 2>&1 && break; python3 -c 'import time; time.sleep(0.1)'; done; true"}"#)]),
            .tools([("get_preview_url", #"{"port":8000}"#), ("get_preview_url", #"{"port":9999}"#)]),
            .text("Your site is up."),
        ])
        defer { server.stop() }
        let host = try TestHost(environment: server.environment)
        defer { host.remove() }
        try await host.test { client in
            let agent = AgentClient(client: client, key: host.adminKey)
            let (_, thread) = try await agent.makeThread()
            let runID = try await agent.start(thread: thread, message: "serve a page")
            #expect(try await agent.waitFinished(runID)["status"] as? String == "completed")
            let results = try await agent.events(runID).filter { $0.type == "tool_result" }.map { $0.data["result"] as? String ?? "" }
            try #require(results.count == 5)
            #expect(results[1].contains("python3 -m http.server 8000") && results[1].contains("chosen from the project"))
            #expect(results[3].contains(".preview.localhost:") && results[3].contains("preview_token="), "\(results[3])")
            #expect(results[4].contains("nothing listens on port 9999"))
        }
    }
}
