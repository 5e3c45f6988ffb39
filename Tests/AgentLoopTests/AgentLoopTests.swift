import Foundation
import Testing
@testable import AgentLoop

@Suite struct EventStreamParserTests {
    @Test("events split anywhere across reads, CRLF and CR line ends, comments, multi-line data")
    func splitAnywhere() {
        let text = ": comment\r\nevent: a\r\ndata: {\"x\":1}\r\n\r\ndata: line1\ndata: line2\n\nevent: b\rdata: z\r\r"
        let bytes = Array(text.utf8)
        for split in 0...bytes.count {
            var parser = EventStreamParser()
            let events = parser.feed(bytes[..<split]) + parser.feed(bytes[split...])
            #expect(events == [
                .init(name: "a", data: "{\"x\":1}"), .init(name: nil, data: "line1\nline2"), .init(name: "b", data: "z"),
            ], "split at \(split)")
        }
    }

    @Test("a last event without its blank line is delivered by finish")
    func finish() {
        var parser = EventStreamParser()
        #expect(parser.feed(Array("data: [DONE]".utf8)).isEmpty)
        #expect(parser.finish() == .init(name: nil, data: "[DONE]"))
    }

    @Test("an event's own `id:` is kept with it, and not carried over to the next one")
    func ids() {
        var parser = EventStreamParser()
        let events = parser.feed(Array("id: 7\nevent: exit\ndata: {}\n\nevent: ping\ndata: p\n\nid\ndata: q\n\n".utf8))
        #expect(events == [.init(name: "exit", data: "{}", id: "7"), .init(name: "ping", data: "p"), .init(name: nil, data: "q", id: "")])
    }
}

@Suite struct ToolboxPartsTests {
    @Test("truncation keeps head and tail and says how much was cut; short text is untouched")
    func truncation() {
        let text = String(repeating: "h", count: 50_000) + String(repeating: "t", count: 50_000)
        let cut = OutputTruncation.cut(text, maxBytes: 10_000)
        #expect(cut.utf8.count < 10_300)
        #expect(cut.hasPrefix("hhhh") && cut.hasSuffix("tttt"))
        #expect(cut.contains("bytes cut: the result was 100000 bytes"))
        #expect(OutputTruncation.cut("short", maxBytes: 10_000) == "short")
    }

    @Test("arguments are checked against the schema: JSON, object, required, types, unknown names")
    func arguments() throws {
        let schema = ToolDefinition.catalog.first { $0.name == "read_file" }!.parameters
        let good = try ToolArguments(#"{"path":"a","start_line":2}"#, schema: schema, tool: "read_file")
        #expect(good.string("path") == "a" && good.int("start_line") == 2)
        for (bad, message) in [
            (#"{"path":"#, "not valid JSON"), ("[1]", "must be a JSON object"), ("{}", "needs the argument 'path'"),
            (#"{"path":1}"#, "'path' must be a string"), (#"{"path":"a","start_line":1.5}"#, "must be a integer"),
            (#"{"path":"a","mode":"x"}"#, "has no argument 'mode'"),
        ] {
            #expect(throws: AgentLoopError.self) { try ToolArguments(bad, schema: schema, tool: "read_file") }
            do { _ = try ToolArguments(bad, schema: schema, tool: "read_file") } catch let error as AgentLoopError {
                #expect(error.message.contains(message), "\(bad): \(error.message)")
            } catch {}
        }
    }

    @Test("the context window trims old tool output first, then whole old turns; recent messages stay")
    func contextWindow() {
        var messages: [ConversationMessage] = []
        for turn in 0..<10 {
            messages.append(.user("question \(turn)"))
            messages.append(ConversationMessage(role: .assistant, text: "", toolCalls: [ToolCall(id: "c\(turn)", name: "shell", arguments: "{}")]))
            messages.append(ConversationMessage(role: .tool, text: String(repeating: "x", count: 40_000), toolCallID: "c\(turn)", toolName: "shell"))
        }
        // Ten turns of ~10k tokens of tool output each; the last two turns are protected.
        let trimmed = ContextWindow.fit(messages, budget: 30_000)
        #expect(trimmed.count == messages.count)
        #expect(trimmed.reduce(0) { $0 + $1.estimatedTokens } <= 30_000)
        #expect(trimmed.suffix(ContextWindow.keepRecent) == messages.suffix(ContextWindow.keepRecent))
        let note = trimmed[2].text.contains("trimmed to fit")
        #expect(note)

        // Not enough: whole old turns go, and what is left starts with a user's message.
        let dropped = ContextWindow.fit(messages, budget: 15_000)
        #expect(dropped.count < messages.count && dropped.count >= ContextWindow.keepRecent)
        #expect(dropped.first?.role == .user)
        #expect(dropped.suffix(ContextWindow.keepRecent) == messages.suffix(ContextWindow.keepRecent))
    }

    @Test("OpenAI request body: assistant tool calls and tool results in the wire's shape")
    func openAIBody() {
        let request = ModelRequest(model: "m", system: "sys", messages: [
            .user("hi"),
            ConversationMessage(role: .assistant, text: "", toolCalls: [ToolCall(id: "c1", name: "shell", arguments: #"{"command":"ls"}"#)]),
            ConversationMessage(role: .tool, text: "a.txt", toolCallID: "c1", toolName: "shell"),
        ], tools: ToolDefinition.catalog)
        let body = OpenAIChatProvider.body(request)
        let messages = body["messages"]?.arrayValue ?? []
        #expect(messages.map { $0["role"]?.stringValue } == ["system", "user", "assistant", "tool"])
        #expect(messages[2]["content"] == .null)
        #expect(messages[2]["tool_calls"]?.arrayValue?.first?["function"]?["arguments"]?.stringValue == #"{"command":"ls"}"#)
        #expect(messages[3]["tool_call_id"]?.stringValue == "c1")
        #expect(body["stream_options"]?["include_usage"]?.boolValue == true)
    }

    @Test("configuration: explicit provider, conventional keys, bad values refused, key never described")
    func configuration() throws {
        #expect(try ProviderConfiguration.load(environment: [:], configFile: nil) == nil)
        let anthropic = try #require(try ProviderConfiguration.load(environment: ["ANTHROPIC_API_KEY": "k"], configFile: nil))
        #expect(anthropic.kind == .anthropic && anthropic.baseURL == "https://api.anthropic.com")
        let openai = try #require(try ProviderConfiguration.load(environment: [
            "SANDBOX_HOST_LLM_PROVIDER": "openai", "SANDBOX_HOST_LLM_BASE_URL": "http://user:pw@127.0.0.1:11434/v1",
            "SANDBOX_HOST_LLM_API_KEY": "secret-key", "SANDBOX_HOST_LLM_MODELS": " llama3 , qwen ",
        ], configFile: nil))
        #expect(openai.models == ["llama3", "qwen"] && openai.defaultModel == "llama3")
        #expect(!openai.description.contains("secret-key") && !openai.description.contains("pw@"))
        #expect(throws: AgentLoopError.self) { try ProviderConfiguration.load(environment: ["SANDBOX_HOST_LLM_PROVIDER": "gemini"], configFile: nil) }
        #expect(throws: AgentLoopError.self) { try ProviderConfiguration.load(environment: ["SANDBOX_HOST_LLM_BASE_URL": "file:///etc"], configFile: nil) }

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("config-\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try Data(#"{"SANDBOX_HOST_LLM_PROVIDER":"anthropic","SANDBOX_HOST_LLM_MODELS":"a,b"}"#.utf8).write(to: URL(fileURLWithPath: file))
        let fromFile = try #require(try ProviderConfiguration.load(environment: ["SANDBOX_HOST_LLM_MODELS": "c"], configFile: file))
        #expect(fromFile.kind == .anthropic && fromFile.models == ["c"])
    }
}

@Suite struct JSONValueTests {
    @Test("jsonText is JSON any parser reads back to the same value: escapes, control bytes, unicode, numbers")
    func roundTrip() throws {
        let tricky = "quote \" backslash \\ slash / newline \n tab \t cr \r bell \u{07} nul \u{00} é 漢 🎉 \u{2028}"
        let value: JSONValue = ["s": .string(tricky), "n": .number(-3), "f": .number(1.5), "e": .number(1e-7), "big": .number(1e20),
                                "b": true, "null": .null, "a": [1, "x", [:]], "nested": ["z": "last", "a": "first"]]
        let text = value.jsonText
        #expect(text.hasPrefix(#"{"a":[1,"x",{}],"b":true,"big":"#))
        #expect(text.contains(#""n":-3"#) && text.contains(#""nested":{"a":"first","z":"last"}"#))
        #expect(JSONValue.parse(text) == value)
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        #expect(parsed?["s"] as? String == tricky)
        #expect(JSONValue.number(.nan).jsonText == "null")
    }
}
