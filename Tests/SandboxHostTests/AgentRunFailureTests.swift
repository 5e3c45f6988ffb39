import AgentLoop
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost

extension HeavySuites {
/// Agent runs when things go wrong: stops, provider errors and cuts, bad tool calls, huge
/// results, many runs at once, no provider, a host restart.
@Suite("Agent run failures", .serialized)
struct AgentRunFailureTests {
    static func args(_ value: JSONValue) -> String { value.jsonText }

    /// Runs `body` with a host pointed at a fake provider answering `script`.
    func withHost(
        _ wire: FakeModelServer.Wire = .openai, script: [FakeModelServer.Reply],
        _ body: @Sendable (AgentClient, FakeModelServer, TestHost) async throws -> Void
    ) async throws {
        let server = try await FakeModelServer.start(wire, script: script)
        defer { server.stop() }
        let host = try TestHost(environment: server.environment)
        defer { host.remove() }
        try await host.test { client in try await body(AgentClient(client: client, key: host.adminKey), server, host) }
    }

    @Test("stop during a `sleep 100` tool call ends the run `stopped` within 2 s and kills the command")
    func stopDuringCommand() async throws {
        try await withHost(script: [.tools([("shell", Self.args(["command": "sleep 100", "timeout": 300]))]), .text("never")]) { agent, server, _ in
            let (project, thread) = try await agent.makeThread()
            let sandbox = try #require(try await agent.post("/api/project/\(project)/sandbox/ensure-active", "{}").json["sandbox_id"] as? String)
            let runID = try await agent.start(thread: thread, message: "sleep")
            func sleeping() async throws -> Bool {
                let result = try await agent.post("/api/sandboxes/\(sandbox)/execute", #"{"command":"pgrep -x sleep"}"#).json
                return result["exit_code"] as? Int == 0
            }
            var waited = 0
            while try await !sleeping(), waited < 200 {
                try await Task.sleep(for: .milliseconds(50))
                waited += 1
            }
            try #require(try await sleeping(), "the tool's command never started")
            // A second run on the same thread is refused while this one runs.
            let (busy, body) = try await agent.post("/api/thread/\(thread)/agent/start", #"{"message":"again"}"#)
            #expect(busy == .conflict)
            #expect(body["code"] as? String == "CONFLICT")

            let running = try await agent.run(runID)
            #expect(running["completed_at"] is NSNull && running["error"] is NSNull)

            let started = ContinuousClock.now
            let (status, stop) = try await agent.post("/api/agent-run/\(runID)/stop", "{}")
            #expect(status == .ok)
            #expect(stop["status"] as? String == "stopping")
            #expect(stop["message"] as? String == "Stop signal sent")
            let record = try await agent.waitFinished(runID, timeout: .seconds(5))
            let elapsed = ContinuousClock.now - started
            #expect(record["status"] as? String == "stopped")
            #expect(elapsed < .seconds(2), "stopped after \(elapsed)")
            #expect(try await !sleeping())
            let events = try await agent.events(runID)
            #expect(events.map(\.type) == ["status", "tool_call", "tool_result", "status"])
            #expect(events[2].data["success"] as? Bool == false)
            #expect(events.last?.data["status"] as? String == "stopped")
            #expect(server.received.count == 1)
            // Stopping a finished run changes nothing.
            let again = try await agent.post("/api/agent-run/\(runID)/stop", "{}").json
            #expect(again["status"] as? String == "stopped")
            // The thread stays usable: the next run's model sees the call answered.
            let next = try await agent.start(thread: thread, message: "go on")
            _ = try await agent.waitFinished(next)
            let messages = try #require(server.received.last?["messages"]?.arrayValue)
            #expect(messages.contains { $0["role"]?.stringValue == "tool" && $0["content"]?.stringValue?.contains("stopped") == true })
        }
    }

    @Test("provider 429 then 200: retried, the run completes")
    func rateLimitedThenOK() async throws {
        try await withHost(script: [.status(429), .text("fine now")]) { agent, server, _ in
            let (_, thread) = try await agent.makeThread()
            let runID = try await agent.start(thread: thread, message: "hi")
            #expect(try await agent.waitFinished(runID)["status"] as? String == "completed")
            #expect(server.received.count == 2)
            let events = try await agent.events(runID)
            #expect(events.map(\.type) == ["status", "content", "content", "status"])
        }
    }

    @Test("provider 500 forever: bounded retries, then `failed` with a clear error event")
    func serverErrorForever() async throws {
        try await withHost(script: [.status(500)]) { agent, server, _ in
            let (_, thread) = try await agent.makeThread()
            let runID = try await agent.start(thread: thread, message: "hi")
            let record = try await agent.waitFinished(runID)
            #expect(record["status"] as? String == "failed")
            #expect((record["error"] as? String)?.contains("500") == true)
            #expect(server.received.count == 3)
            let events = try await agent.events(runID)
            #expect(events.map(\.type) == ["status", "error", "status"])
            #expect((events[1].data["message"] as? String)?.contains("fake failure 500") == true)
        }
    }

    @Test("provider 401: fails at once, no retry, and the key is not in the message")
    func unauthorized() async throws {
        try await withHost(script: [.status(401)]) { agent, server, _ in
            let (_, thread) = try await agent.makeThread()
            let runID = try await agent.start(thread: thread, message: "hi")
            let record = try await agent.waitFinished(runID)
            #expect(record["status"] as? String == "failed")
            #expect(server.received.count == 1)
            let error = record["error"] as? String ?? ""
            #expect(error.contains("401") && error.contains("API_KEY"))
            #expect(!error.contains("sk-test"))
        }
    }

    @Test("a stream cut mid-chunk is retried; the run completes with the full answer")
    func cutMidChunk() async throws {
        for wire in [FakeModelServer.Wire.openai, .anthropic] {
            try await withHost(wire, script: [.cut, .text("recovered")]) { agent, server, _ in
                let (_, thread) = try await agent.makeThread()
                let runID = try await agent.start(thread: thread, message: "hi")
                #expect(try await agent.waitFinished(runID)["status"] as? String == "completed", "\(wire)")
                #expect(server.received.count == 2)
                let messages = try await agent.get("/api/threads/\(thread)/messages").json["messages"] as? [[String: Any]] ?? []
                #expect(messages.last?["content"] as? String == "recovered")
            }
        }
    }

    @Test("malformed and impossible tool calls become failed results the model can correct")
    func badToolCalls() async throws {
        try await withHost(script: [
            .tools([("write_file", #"{"path": "a.txt", "content": "#),
                    ("write_file", Self.args(["path": "a.txt"])),
                    ("no_such_tool", "{}"),
                    ("read_file", Self.args(["path": "../../etc/passwd"])),
                    ("shell", Self.args(["command": "echo x", "timeout": "soon"]))]),
            .tools([("write_file", Self.args(["path": "a.txt", "content": "one one"])),
                    ("edit_file", Self.args(["path": "a.txt", "old_string": "one", "new_string": "two"])),
                    ("edit_file", Self.args(["path": "a.txt", "old_string": "three", "new_string": "two"]))]),
            .text("corrected"),
        ]) { agent, server, _ in
            let (_, thread) = try await agent.makeThread()
            let runID = try await agent.start(thread: thread, message: "hi")
            #expect(try await agent.waitFinished(runID)["status"] as? String == "completed")
            let results = try await agent.events(runID).filter { $0.type == "tool_result" }
            #expect(results.map { $0.data["success"] as? Bool } == [false, false, false, false, false, true, false, false])
            let texts = results.map { $0.data["result"] as? String ?? "" }
            #expect(texts[0].contains("not valid JSON"))
            #expect(texts[1].contains("needs the argument 'content'"))
            #expect(texts[2].contains("no tool 'no_such_tool'"))
            #expect(!texts[3].contains("root:"))
            #expect(texts[4].contains("'timeout' must be a number"))
            #expect(texts[6].contains("occurs 2 times"))
            #expect(texts[7].contains("was not found"))
            // The model saw each error as the result of its call.
            let second = try #require(server.received[1]["messages"]?.arrayValue)
            #expect(second.filter { $0["role"]?.stringValue == "tool" }.count == 5)
        }
    }

    @Test("a 50 MB tool result reaches the model and the stream cut, head and tail kept")
    func hugeToolResult() async throws {
        try await withHost(script: [
            .tools([("shell", Self.args(["command": "yes aaaaaaaaa | head -c 50000000 > big.txt; echo END >> big.txt"]))]),
            .tools([("read_file", Self.args(["path": "big.txt"])), ("shell", Self.args(["command": "cat big.txt"]))]),
            .text("ok"),
        ]) { agent, server, _ in
            let (_, thread) = try await agent.makeThread()
            let runID = try await agent.start(thread: thread, message: "big")
            #expect(try await agent.waitFinished(runID)["status"] as? String == "completed")
            let results = try await agent.events(runID).filter { $0.type == "tool_result" }.map { $0.data["result"] as? String ?? "" }
            try #require(results.count == 3)
            #expect(results[1].utf8.count < 40_000)
            #expect(results[1].hasPrefix("aaaa") && results[1].hasSuffix("END\n"))
            #expect(results[1].contains("bytes cut: the result was 50000004 bytes"))
            #expect(results[2].utf8.count < 40_000 && results[2].contains("bytes cut"))
            let sent = try #require(server.received.last?["messages"]?.arrayValue?.last?["content"]?.stringValue)
            #expect(sent.utf8.count < 40_000)
        }
    }

    @Test("20 runs at once, each on its own project, all complete with their own results")
    func manyRunsAtOnce() async throws {
        let server = try await FakeModelServer.start(.openai) { request, _ in
            let messages = request["messages"]?.arrayValue ?? []
            guard messages.last?["role"]?.stringValue == "user", let prompt = messages.last?["content"]?.stringValue else {
                return .text("finished")
            }
            return .tools([("shell", "{\"command\":\"echo run-\(prompt) > mark.txt; cat mark.txt\"}")])
        }
        defer { server.stop() }
        let host = try TestHost(environment: server.environment)
        defer { host.remove() }
        try await host.test { client in
            let agent = AgentClient(client: client, key: host.adminKey)
            let threads = try await (0..<20).asyncMap { index in try await agent.makeThread(name: "p\(index)") }
            let runs = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for (index, thread) in threads.enumerated() {
                    group.addTask { (index, try await agent.start(thread: thread.thread, message: "\(index)")) }
                }
                return try await group.reduce(into: [Int: String]()) { $0[$1.0] = $1.1 }
            }
            for (index, runID) in runs {
                #expect(try await agent.waitFinished(runID, timeout: .seconds(120))["status"] as? String == "completed")
                let result = try await agent.events(runID).first { $0.type == "tool_result" }
                #expect((result?.data["result"] as? String)?.contains("run-\(index)") == true)
            }
        }
    }

    @Test("no provider: models list is empty, start and initiate answer 400 saying how to configure, nothing created", .testHost)
    func noProvider() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let agent = AgentClient(client: client, key: host.adminKey)
        #expect((try await agent.get("/api/models/available").json["models"] as? [Any])?.isEmpty == true)
        let (_, thread) = try await agent.makeThread()
        let (status, body) = try await agent.post("/api/thread/\(thread)/agent/start", #"{"message":"hi"}"#)
        #expect(status == .badRequest)
        #expect((body["detail"] as? String)?.contains("SANDBOX_HOST_LLM_PROVIDER") == true)
        let before = try await agent.get("/api/projects").json["projects"] as? [Any]
        let (initiate, _) = try await agent.post("/api/agent/initiate", #"{"prompt":"build a site"}"#)
        #expect(initiate == .badRequest)
        #expect((try await agent.get("/api/projects").json["projects"] as? [Any])?.count == before?.count)
        #expect((try await agent.get("/api/threads/\(thread)/messages").json["messages"] as? [Any])?.isEmpty == true)
    }

    @Test("models, initiate, bad input, and another user's run")
    func routes() async throws {
        try await withHost(script: [.tools([("shell", Self.args(["command": "pwd"]))]), .text("hello")]) { agent, _, host in
            let models = try await agent.get("/api/models/available").json["models"] as? [[String: Any]] ?? []
            #expect(models.map { $0["id"] as? String } == ["fake-large", "fake-small"])
            #expect(models.map { $0["default"] as? Bool } == [true, false])
            #expect(models.allSatisfy { $0["provider"] as? String == "openai" })
            let health = try await agent.get("/api/health/deep").text
            #expect(health.contains("model provider: openai") && !health.contains("sk-test"))

            let (status, body) = try await agent.post("/api/agent/initiate", #"{"prompt":"Say hello from the sandbox","project_name":"greeter"}"#)
            #expect(status == .created)
            let runID = try #require(body["agent_run_id"] as? String)
            for key in ["project_id", "thread_id", "sandbox_id"] { #expect(body[key] is String) }
            #expect(try await agent.waitFinished(runID)["status"] as? String == "completed")
            let project = try await agent.get("/api/projects/\(body["project_id"] as! String)").json
            #expect(project["name"] as? String == "greeter")
            let pwd = try await agent.events(runID).first { $0.type == "tool_result" }
            #expect((pwd?.data["result"] as? String)?.contains("/workspace") == true)
            let status2 = try await agent.get("/api/agent-run/\(runID)/status").json
            #expect(status2["status"] as? String == "completed" && status2["timestamp"] is Int)

            let thread = try #require(body["thread_id"] as? String)
            for (payload, expected) in [
                (#"{"message":""}"#, HTTPResponse.Status.unprocessableContent),
                (#"{"message":"x","max_steps":0}"#, .unprocessableContent),
                (#"{"message":"x","model_name":"gpt-nope"}"#, .badRequest),
                (#"{"message":5}"#, .unprocessableContent),
                ("not json", .badRequest),
            ] {
                let (got, _) = try await agent.post("/api/thread/\(thread)/agent/start", payload)
                #expect(got == expected, "\(payload)")
            }
            let other = AgentClient(client: agent.client, key: try host.makeUser("other"))
            for uri in ["/api/agent-run/\(runID)", "/api/agent-run/\(runID)/status", "/api/agent-run/\(runID)/stream", "/api/thread/\(thread)/agent-runs"] {
                #expect(try await other.get(uri).status == .notFound, "\(uri)")
            }
            #expect(try await other.post("/api/agent-run/\(runID)/stop", "{}").status == .notFound)
            #expect(try await other.post("/api/thread/\(thread)/agent/start", #"{"message":"x"}"#).status == .notFound)
        }
    }

    @Test("a host restart marks runs that were running `failed` (\"host restarted\"); their stream ends", .testHost)
    func restartFailsRunningRuns() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host
        let thread = try await AgentClient(client: fixture.client, key: host.adminKey).makeThread().thread
        guard case .started(let run) = try await host.services.agentRuns.start(threadID: thread, model: "m", maxSteps: 5, userMessage: "hi") else {
            Issue.record("no run")
            return
        }
        try await host.services.agentRuns.appendEvent(runID: run.id, sequence: 1, payload: #"{"sequence":1,"status":"running","type":"status"}"#)
        // A new process on the same data directory.
        let restarted = try HostServices(configuration: host.configuration, database: host.services.database)
        let record = try #require(try await restarted.agentRuns.get(id: run.id, userID: try host.services.database.runBlocking { try $0.query("SELECT id FROM users").first!.text("id") }))
        #expect(record.status == .failed)
        #expect(record.error == "host restarted")
        let events = try await restarted.agentRuns.events(runID: run.id, after: 0)
        #expect(events.map(\.sequence) == [1, 2, 3])
        #expect(events.last?.payload.contains("\"status\":\"failed\"") == true)
    }
}
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
