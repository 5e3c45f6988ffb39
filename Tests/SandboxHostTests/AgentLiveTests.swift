import AgentLoop
import Foundation
import Testing

/// Agent runs with the real binary: the CLI a person uses, and a host killed mid-run.
@Suite("Agent runs, live", .serialized)
struct AgentLiveTests {
    @Test("`sandbox-host agent run` creates the project, streams text, tool calls and results, and exits 0")
    func cliRun() async throws {
        let server = try await FakeModelServer.start(.openai, script: [
            .tools([("shell", #"{"command":"echo from-the-sandbox > out.txt && cat out.txt"}"#)], text: "Let me check."),
            .text("All done."),
        ])
        defer { server.stop() }
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let host = try await HostProcess(dataDir: dataDir, environment: server.environment)
        defer { Task { try? await host.stop() } }
        let key = try host.adminKey
        let (status, output) = try Subprocess.run(HostProcess.binary, [
            "agent", "run", "--project", "cli-demo", "--url", host.baseURL, "--api-key", key, "say hello",
        ])
        let text = String(decoding: output, as: UTF8.self)
        #expect(status == 0, "\(text)")
        #expect(text.contains("Let me check."))
        #expect(text.contains("→ shell {\"command\":\"echo from-the-sandbox > out.txt && cat out.txt\"}"))
        #expect(text.contains("✓ exit code: 0 (+2 lines)"))
        #expect(text.contains("All done."))
        #expect(text.hasSuffix("[completed]\n"))
        let projects = try await host.request(.GET, "/api/projects", key: key).body
        #expect(projects.contains("\"cli-demo\""))
        // Without a key it says how to get one, and fails.
        let (refused, message) = try Subprocess.run(HostProcess.binary, ["agent", "run", "--project", "x", "--url", host.baseURL, "hi"])
        #expect(refused != 0)
        #expect(String(decoding: message, as: UTF8.self).contains("SANDBOX_HOST_API_KEY"))
    }

    @Test("a host killed mid-run comes back with that run `failed` (\"host restarted\") and its stream ending")
    func killedMidRun() async throws {
        let server = try await FakeModelServer.start(.openai, script: [.delayed(.seconds(60), then: .text("too late"))])
        defer { server.stop() }
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let host = try await HostProcess(dataDir: dataDir, environment: server.environment)
        let key = try host.adminKey
        let project = JSONValue.parse(try await host.request(.POST, "/api/projects", key: key, body: #"{"name":"p"}"#).body)?["project_id"]?.stringValue
        let thread = JSONValue.parse(try await host.request(.POST, "/api/threads", key: key, body: #"{"project_id":"\#(project ?? "")"}"#).body)?["thread_id"]?.stringValue ?? ""
        let started = try await host.request(.POST, "/api/thread/\(thread)/agent/start", key: key, body: #"{"message":"hi"}"#)
        let run = try #require(JSONValue.parse(started.body)?["agent_run_id"]?.stringValue)
        do {
            try await waitUntil("the run's model request") { !server.received.isEmpty }
        } catch {
            _ = try? await host.stop(signal: SIGKILL)  // no host left running
            throw error
        }
        try await host.stop(signal: SIGKILL)

        let restarted = try await HostProcess(dataDir: dataDir, environment: server.environment)
        defer { Task { try? await restarted.stop() } }
        let record = try #require(JSONValue.parse(try await restarted.request(.GET, "/api/agent-run/\(run)", key: key).body))
        #expect(record["status"]?.stringValue == "failed")
        #expect(record["error"]?.stringValue == "host restarted")
        let stream = try await restarted.request(.GET, "/api/agent-run/\(run)/stream", key: key).body
        let events = AgentClient.parse(stream)
        #expect(events.map(\.type) == ["status", "error", "status"])
        #expect(events.map(\.id) == [1, 2, 3])
        // The thread takes a new run.
        let again = try await restarted.request(.POST, "/api/thread/\(thread)/agent/start", key: key, body: #"{"message":"again"}"#)
        #expect(again.status == 200)
    }
}
