import AgentLoop
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost

extension HeavySuites {
/// Agent runs end to end: the real router and sandbox, a model provider on loopback speaking
/// OpenAI's or Anthropic's streamed wire format.
@Suite("Agent runs", .serialized)
struct AgentRunTests {
    static func args(_ value: JSONValue) -> String { value.jsonText }

    /// The scripted session: write a program, run it, read it, edit it and run it again (two
    /// calls in one message), then answer.
    static let session: [FakeModelServer.Reply] = [
        .tools([("write_file", args(["path": "hello.py", "content": "print(\"hello\")\n"]))], text: "I will write the program."),
        .tools([("shell", args(["command": "python3 hello.py"]))]),
        .tools([("read_file", args(["path": "/workspace/hello.py", "start_line": 1, "end_line": 1]))]),
        .tools([("edit_file", args(["path": "hello.py", "old_string": "hello", "new_string": "hello, agent"])),
                ("shell", args(["command": "python3 hello.py", "timeout": 30]))]),
        .text("Done: hello.py prints a greeting."),
    ]

    @Test("OpenAI wire: a scripted session edits the workspace; events are ordered, gap-free, replayable and resumable")
    func openAISession() async throws {
        let server = try await FakeModelServer.start(.openai, script: Self.session + [.text("Second run sees the first.")])
        defer { server.stop() }
        let host = try TestHost(environment: server.environment)
        defer { host.remove() }
        try await host.test { client in
            let agent = AgentClient(client: client, key: host.adminKey)
            let (project, thread) = try await agent.makeThread()
            let runID = try await agent.start(thread: thread, message: "Write hello.py and make it greet the agent.")
            // Follows the run live from its start, to its end.
            let live = try await agent.events(runID)
            let record = try await agent.waitFinished(runID)
            #expect(record["status"] as? String == "completed")
            #expect(record["model"] as? String == "fake-large")
            let usage = try #require(record["usage"] as? [String: Any])
            #expect(usage["prompt_tokens"] as? Int == 500)
            #expect(usage["completion_tokens"] as? Int == 100)

            // The workspace holds what the tools wrote.
            let sandboxID = try await agent.post("/api/project/\(project)/sandbox/ensure-active", "{}").json["sandbox_id"] as! String
            let file = try await agent.get("/api/sandboxes/\(sandboxID)/files/content?path=hello.py")
            #expect(file.text == "print(\"hello, agent\")\n")

            // Exact event order; sequences 1…N with no gap; every event has its id.
            let types = live.map(\.type)
            #expect(types.first == "status" && types.last == "status")
            #expect(types.filter { $0 != "content" } == [
                "status", "tool_call", "tool_result", "tool_call", "tool_result", "tool_call", "tool_result",
                "tool_call", "tool_result", "tool_call", "tool_result", "status",
            ])
            #expect(live.map { $0.data["sequence"] as? Int } == Array(1...live.count).map(Optional.some))
            #expect(live.map(\.id) == Array(1...live.count).map(Optional.some))
            #expect(live.allSatisfy { $0.name == "message" })
            #expect(live.last?.data["status"] as? String == "completed")
            let content = live.filter { $0.type == "content" }.map { $0.data["content"] as? String ?? "" }.joined()
            #expect(content == "I will write the program.Done: hello.py prints a greeting.")
            let calls = live.filter { $0.type == "tool_call" }
            #expect(calls.map { $0.data["tool"] as? String } == ["write_file", "shell", "read_file", "edit_file", "shell"])
            #expect((calls[0].data["arguments"] as? [String: Any])?["path"] as? String == "hello.py")
            let results = live.filter { $0.type == "tool_result" }
            #expect(results.allSatisfy { $0.data["success"] as? Bool == true })
            #expect(zip(calls, results).allSatisfy { $0.data["tool_call_id"] as? String == $1.data["tool_call_id"] as? String })
            #expect((results[1].data["result"] as? String)?.contains("exit code: 0\nhello") == true)
            #expect((results[2].data["result"] as? String) == "1\tprint(\"hello\")")
            #expect((results[4].data["result"] as? String)?.contains("hello, agent") == true)

            // Replay is identical; Last-Event-ID resumes after it, nothing twice.
            let replay = try await agent.events(runID)
            #expect(replay.map { $0.data as NSDictionary } == live.map { $0.data as NSDictionary })
            let resumed = try await agent.events(runID, lastEventID: 5)
            #expect(resumed.map(\.id) == Array(6...live.count).map(Optional.some))
            let afterQuery = try await agent.get("/api/agent-run/\(runID)/stream?after=\(live.count - 1)")
            #expect(AgentClient.parse(afterQuery.text).map(\.id) == [live.count])

            // What the provider was sent: the system prompt, tools, the person's message, and
            // each tool result answering its call.
            let requests = server.received
            #expect(requests.count == 5)
            #expect(requests[0]["model"]?.stringValue == "fake-large")
            #expect(requests[0]["stream"]?.boolValue == true)
            #expect(requests[0]["tools"]?.arrayValue?.compactMap { $0["function"]?["name"]?.stringValue }.contains("edit_file") == true)
            #expect(server.receivedHeaders[0]["authorization"] == "Bearer sk-test-secret-123")
            let third = try #require(requests[2]["messages"]?.arrayValue)
            #expect(third.first?["role"]?.stringValue == "system")
            #expect(third.last?["role"]?.stringValue == "tool")
            #expect(third.last?["content"]?.stringValue?.contains("hello") == true)
            #expect(third.last?["tool_call_id"]?.stringValue == third[third.count - 2]["tool_calls"]?.arrayValue?.first?["id"]?.stringValue)

            // The thread holds the conversation; a second run continues it.
            let messages = try await agent.get("/api/threads/\(thread)/messages").json["messages"] as? [[String: Any]] ?? []
            #expect(messages.map { $0["role"] as? String } == ["user", "assistant", "tool", "assistant", "tool", "assistant", "tool", "assistant", "tool", "tool", "assistant"])
            let second = try await agent.start(thread: thread, message: "Anything else?", extra: #","model_name":"fake-small""#)
            let secondRecord = try await agent.waitFinished(second)
            #expect(secondRecord["status"] as? String == "completed")
            let followUp = try #require(server.received.last?["messages"]?.arrayValue)
            #expect(followUp.count == 1 + messages.count + 1)
            #expect(followUp[1]["content"]?.stringValue == "Write hello.py and make it greet the agent.")
            #expect(followUp.last?["content"]?.stringValue == "Anything else?")
            #expect(server.received.last?["model"]?.stringValue == "fake-small")
            let runs = try await agent.get("/api/thread/\(thread)/agent-runs").json["agent_runs"] as? [[String: Any]] ?? []
            #expect(runs.map { $0["id"] as? String } == [second, runID])

            // No secret in any event, message or run record.
            let everything = [try await agent.get("/api/agent-run/\(runID)/stream").text,
                              try await agent.get("/api/threads/\(thread)/messages").text,
                              try await agent.get("/api/agent-run/\(runID)").text].joined()
            #expect(!everything.contains("sk-test-secret"))
        }
    }

    @Test("Anthropic wire: tool_use blocks with input_json_delta fragments, tool_result blocks back")
    func anthropicSession() async throws {
        let server = try await FakeModelServer.start(.anthropic, script: [
            .tools([("write_file", Self.args(["path": "notes/a.txt", "content": "alpha\nbeta\n"])),
                    ("shell", Self.args(["command": "wc -l notes/a.txt"]))], text: "Writing."),
            .text("All done."),
        ])
        defer { server.stop() }
        let host = try TestHost(environment: server.environment)
        defer { host.remove() }
        try await host.test { client in
            let agent = AgentClient(client: client, key: host.adminKey)
            let (_, thread) = try await agent.makeThread()
            let runID = try await agent.start(thread: thread, message: "Write notes.")
            let record = try await agent.waitFinished(runID)
            #expect(record["status"] as? String == "completed")
            let events = try await agent.events(runID)
            #expect(events.map(\.type).filter { $0 != "content" } == ["status", "tool_call", "tool_result", "tool_call", "tool_result", "status"])
            let results = events.filter { $0.type == "tool_result" }
            #expect((results[1].data["result"] as? String)?.contains("2 notes/a.txt") == true)
            let usage = try #require(record["usage"] as? [String: Any])
            #expect(usage["prompt_tokens"] as? Int == 180)
            #expect(usage["completion_tokens"] as? Int == 50)

            let second = try #require(server.received.last)
            #expect(server.receivedHeaders[0]["x-api-key"] == "sk-ant-secret-456")
            #expect(server.receivedHeaders[0]["anthropic-version"] == "2023-06-01")
            #expect(second["system"]?.stringValue?.contains("/workspace") == true)
            #expect(second["tools"]?.arrayValue?.first?["input_schema"]?["type"]?.stringValue == "object")
            let messages = try #require(second["messages"]?.arrayValue)
            #expect(messages.map { $0["role"]?.stringValue } == ["user", "assistant", "user"])
            let assistant = try #require(messages[1]["content"]?.arrayValue)
            #expect(assistant.map { $0["type"]?.stringValue } == ["text", "tool_use", "tool_use"])
            #expect(assistant[1]["input"]?["path"]?.stringValue == "notes/a.txt")
            let answers = try #require(messages[2]["content"]?.arrayValue)
            #expect(answers.map { $0["type"]?.stringValue } == ["tool_result", "tool_result"])
            #expect(answers[0]["tool_use_id"] == assistant[1]["id"])
        }
    }
}
}
