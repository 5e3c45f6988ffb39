import AgentLoop
import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A model provider on loopback that speaks the real wire format of OpenAI's Chat Completions
/// or Anthropic's Messages API, streamed, with their awkward parts: tool-call arguments split
/// over many chunks, several calls in one message, usage in the last chunk, `input_json_delta`
/// fragments, stop reasons in `message_delta`. What it answers comes from a responder that sees
/// each request's JSON and its index; every request is kept for the test to inspect.
final class FakeModelServer: Sendable {
    enum Wire: Sendable { case openai, anthropic }

    enum Reply: Sendable {
        /// A final answer, streamed a few characters at a time.
        case text(String)
        /// A final answer streamed in exactly these pieces (one content event each).
        case pieces([String])
        /// Tool calls (name, arguments as JSON text), optionally after some text.
        case tools([(name: String, arguments: String)], text: String = "")
        /// An HTTP error with a provider-shaped body.
        case status(Int)
        /// Half a chunk, then the connection drops.
        case cut
        /// Waits this long before answering `then`.
        indirect case delayed(Duration, then: Reply)
    }

    let wire: Wire
    private let responder: @Sendable (JSONValue, Int) -> Reply
    private let requests = Mutex<[JSONValue]>([])
    private let headerLog = Mutex<[[String: String]]>([])
    private let state = Mutex<(task: Task<Void, any Error>?, baseURL: String)>((nil, ""))
    var baseURL: String { state.withLock { $0.baseURL } }

    private init(wire: Wire, responder: @escaping @Sendable (JSONValue, Int) -> Reply) {
        self.wire = wire
        self.responder = responder
    }

    /// Starts a server; `responder(request, index)` decides each answer.
    static func start(_ wire: Wire, responder: @escaping @Sendable (JSONValue, Int) -> Reply) async throws -> FakeModelServer {
        let server = FakeModelServer(wire: wire, responder: responder)
        try await server.run()
        return server
    }

    /// Starts a server that answers `script` in order (the last one again when it runs out).
    static func start(_ wire: Wire, script: [Reply]) async throws -> FakeModelServer {
        try await start(wire) { _, index in script[min(index, script.count - 1)] }
    }

    var received: [JSONValue] { requests.withLock { $0 } }
    var receivedHeaders: [[String: String]] { headerLog.withLock { $0 } }

    /// The environment that points the host at this server.
    var environment: [String: String] {
        switch wire {
        case .openai: ["SANDBOX_HOST_LLM_PROVIDER": "openai", "SANDBOX_HOST_LLM_BASE_URL": baseURL + "/v1",
                       "SANDBOX_HOST_LLM_API_KEY": "sk-test-secret-123", "SANDBOX_HOST_LLM_MODELS": "fake-large,fake-small",
                       "SANDBOX_HOST_LLM_RETRY_MS": "20", "SANDBOX_HOST_LLM_MAX_ATTEMPTS": "3"]
        case .anthropic: ["ANTHROPIC_API_KEY": "sk-ant-secret-456", "ANTHROPIC_BASE_URL": baseURL,
                          "SANDBOX_HOST_LLM_MODELS": "claude-fake", "SANDBOX_HOST_LLM_RETRY_MS": "20", "SANDBOX_HOST_LLM_MAX_ATTEMPTS": "3"]
        }
    }

    func stop() { state.withLock { $0.task?.cancel() } }

    private func run() async throws {
        let router = Router()
        let path = wire == .openai ? "/v1/chat/completions" : "/v1/messages"
        router.post(RouterPath(path)) { [self] request, context -> Response in
            let body = try await request.body.collect(upTo: 64 << 20)
            let json = JSONValue.parse(Data(buffer: body)) ?? .null
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let index = requests.withLock { $0.append(json); return $0.count - 1 }
            headerLog.withLock { $0.append(headers) }
            return try await respond(responder(json, index))
        }
        var logger = Logger(label: "fake-model")
        logger.logLevel = .critical
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            }, logger: logger)
        let task = Task { try await app.run() }
        state.withLock { $0.task = task }
        for await port in ports { state.withLock { $0.baseURL = "http://127.0.0.1:\(port)" } }
    }

    private func respond(_ reply: Reply) async throws -> Response {
        switch reply {
        case .delayed(let duration, let then):
            try await Task.sleep(for: duration)
            return try await respond(then)
        case .status(let code):
            let body = wire == .openai
                ? #"{"error":{"message":"fake failure \#(code)","type":"server_error"}}"#
                : #"{"type":"error","error":{"type":"api_error","message":"fake failure \#(code)"}}"#
            return Response(status: .init(code: code), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        case .cut:
            return Response(status: .ok, headers: [.contentType: "text/event-stream"], body: ResponseBody { writer in
                let start = self.wire == .openai
                    ? "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hal\"}}]}\n\ndata: {\"id\":\"c1\",\"cho"
                    : "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":5}}}\n\nevent: content_block_start\ndata: {\"type\":\"content_blo"
                try await writer.write(ByteBuffer(string: start))
                throw CancellationError() // drops the connection mid-chunk
            })
        case .text(let text):
            return stream(events(text: text, calls: []))
        case .pieces(let pieces):
            return stream(events(text: pieces.joined(), calls: [], pieces: pieces))
        case .tools(let calls, let text):
            return stream(events(text: text, calls: calls))
        }
    }

    private func stream(_ events: [String]) -> Response {
        Response(status: .ok, headers: [.contentType: "text/event-stream"], body: ResponseBody { writer in
            for event in events { try await writer.write(ByteBuffer(string: event)) }
            try await writer.finish(nil)
        })
    }

    /// Pieces of `text` of at most `size` characters.
    static func pieces(_ text: String, _ size: Int) -> [String] {
        var result: [String] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            result.append(String(rest.prefix(size)))
            rest = rest.dropFirst(size)
        }
        return result
    }

    private func events(text: String, calls: [(name: String, arguments: String)], pieces given: [String]? = nil) -> [String] {
        func data(_ value: JSONValue) -> String { "data: \(value.jsonText)\n\n" }
        switch wire {
        case .openai:
            var out: [String] = [data(["id": "c1", "choices": [["index": 0, "delta": ["role": "assistant", "content": ""]]]])]
            for piece in given ?? Self.pieces(text, 7) {
                out.append(data(["id": "c1", "choices": [["index": 0, "delta": ["content": .string(piece)], "finish_reason": .null]]]))
            }
            for (index, call) in calls.enumerated() {
                out.append(data(["id": "c1", "choices": [["index": 0, "delta": ["tool_calls": [[
                    "index": .number(Double(index)), "id": .string("call_\(index)_\(UUID().uuidString.prefix(8))"), "type": "function",
                    "function": ["name": .string(call.name), "arguments": ""]]]]]]]))
                for piece in Self.pieces(call.arguments, 5) {
                    out.append(data(["id": "c1", "choices": [["index": 0, "delta": ["tool_calls": [[
                        "index": .number(Double(index)), "function": ["arguments": .string(piece)]]]]]]]))
                }
            }
            out.append(data(["id": "c1", "choices": [["index": 0, "delta": [:], "finish_reason": calls.isEmpty ? "stop" : "tool_calls"]]]))
            out.append(data(["id": "c1", "choices": [], "usage": ["prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120]]))
            out.append("data: [DONE]\n\n")
            return out
        case .anthropic:
            func event(_ name: String, _ value: JSONValue) -> String { "event: \(name)\ndata: \(value.jsonText)\n\n" }
            var out = [event("message_start", ["type": "message_start", "message": [
                "id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-fake",
                "usage": ["input_tokens": 90, "output_tokens": 1]]])]
            out.append(event("ping", ["type": "ping"]))
            var index = 0
            if !text.isEmpty {
                out.append(event("content_block_start", ["type": "content_block_start", "index": 0, "content_block": ["type": "text", "text": ""]]))
                for piece in given ?? Self.pieces(text, 7) {
                    out.append(event("content_block_delta", ["type": "content_block_delta", "index": 0, "delta": ["type": "text_delta", "text": .string(piece)]]))
                }
                out.append(event("content_block_stop", ["type": "content_block_stop", "index": 0]))
                index = 1
            }
            for call in calls {
                out.append(event("content_block_start", ["type": "content_block_start", "index": .number(Double(index)), "content_block": [
                    "type": "tool_use", "id": .string("toolu_\(index)_\(UUID().uuidString.prefix(8))"), "name": .string(call.name), "input": [:]]]))
                for piece in Self.pieces(call.arguments, 5) {
                    out.append(event("content_block_delta", ["type": "content_block_delta", "index": .number(Double(index)),
                                                             "delta": ["type": "input_json_delta", "partial_json": .string(piece)]]))
                }
                out.append(event("content_block_stop", ["type": "content_block_stop", "index": .number(Double(index))]))
                index += 1
            }
            out.append(event("message_delta", ["type": "message_delta", "delta": ["stop_reason": calls.isEmpty ? "end_turn" : "tool_use"],
                                               "usage": ["output_tokens": 25]]))
            out.append(event("message_stop", ["type": "message_stop"]))
            return out
        }
    }
}
