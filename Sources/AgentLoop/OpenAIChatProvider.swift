import AsyncHTTPClient

/// The OpenAI Chat Completions API, streamed (`POST {base}/chat/completions`, `stream: true`),
/// which OpenRouter, Ollama, vLLM, llama.cpp's server and LM Studio speak too.
///
/// Tool-call arguments arrive as fragments keyed by `index` across many `delta` chunks; a call
/// is reported once the message finishes. Usage comes in a last chunk with no choices.
public struct OpenAIChatProvider: ModelProvider {
    public let name = "openai"
    let baseURL: String
    let apiKey: String?
    let http: ProviderHTTP

    public init(baseURL: String, apiKey: String?, client: HTTPClient = .shared) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiKey = apiKey
        self.http = ProviderHTTP(client: client)
    }

    public func complete(_ request: ModelRequest, onEvent: @Sendable (ModelStreamEvent) async throws -> Void) async throws {
        var headers: [(String, String)] = []
        if let apiKey, !apiKey.isEmpty { headers.append(("Authorization", "Bearer \(apiKey)")) }
        var calls: [Int: (id: String, name: String, arguments: String)] = [:]
        var finished = false
        var done = false
        try await http.streamEvents(url: baseURL + "/chat/completions", headers: headers, body: Self.body(request)) { event in
            if event.data == "[DONE]" { done = true; return }
            let chunk = try ProviderHTTP.decode(event.data)
            if let error = chunk["error"] {
                throw AgentLoopError(.providerUnavailable, "model provider error: \(error["message"]?.stringValue ?? error.jsonText)")
            }
            if let usage = chunk["usage"], usage != .null {
                try await onEvent(.usage(TokenUsage(
                    promptTokens: Int(usage["prompt_tokens"]?.numberValue ?? 0),
                    completionTokens: Int(usage["completion_tokens"]?.numberValue ?? 0))))
            }
            for choice in chunk["choices"]?.arrayValue ?? [] {
                let delta = choice["delta"] ?? .null
                if let text = delta["content"]?.stringValue, !text.isEmpty { try await onEvent(.text(text)) }
                for fragment in delta["tool_calls"]?.arrayValue ?? [] {
                    let index = Int(fragment["index"]?.numberValue ?? Double(calls.count))
                    var call = calls[index] ?? (id: "", name: "", arguments: "")
                    if let id = fragment["id"]?.stringValue, !id.isEmpty { call.id = id }
                    if let name = fragment["function"]?["name"]?.stringValue { call.name += name }
                    if let arguments = fragment["function"]?["arguments"]?.stringValue { call.arguments += arguments }
                    calls[index] = call
                }
                if let reason = choice["finish_reason"]?.stringValue {
                    for index in calls.keys.sorted() {
                        let call = calls[index]!
                        try await onEvent(.toolCall(ToolCall(
                            id: call.id.isEmpty ? "call_\(index)" : call.id, name: call.name, arguments: call.arguments)))
                    }
                    calls = [:]
                    finished = true
                    try await onEvent(.finished(reason))
                }
            }
        }
        // A stream that ends with neither `finish_reason` nor `[DONE]` was cut.
        guard finished || done else {
            throw AgentLoopError(.protocolViolation, "the model provider's stream ended before the message finished")
        }
        if !finished {
            for index in calls.keys.sorted() {
                let call = calls[index]!
                try await onEvent(.toolCall(ToolCall(id: call.id.isEmpty ? "call_\(index)" : call.id, name: call.name, arguments: call.arguments)))
            }
            try await onEvent(.finished(calls.isEmpty ? "stop" : "tool_calls"))
        }
    }

    static func body(_ request: ModelRequest) -> JSONValue {
        var messages: [JSONValue] = [["role": "system", "content": .string(request.system)]]
        for message in request.messages {
            switch message.role {
            case .user:
                messages.append(["role": "user", "content": .string(message.text)])
            case .assistant:
                var object: [String: JSONValue] = ["role": "assistant", "content": message.text.isEmpty ? .null : .string(message.text)]
                if !message.toolCalls.isEmpty {
                    object["tool_calls"] = .array(message.toolCalls.map {
                        ["id": .string($0.id), "type": "function", "function": ["name": .string($0.name), "arguments": .string($0.arguments)]]
                    })
                }
                messages.append(.object(object))
            case .tool:
                messages.append(["role": "tool", "tool_call_id": .string(message.toolCallID ?? ""), "content": .string(message.text)])
            }
        }
        var body: [String: JSONValue] = [
            "model": .string(request.model), "messages": .array(messages), "stream": true,
            "stream_options": ["include_usage": true],
        ]
        if !request.tools.isEmpty {
            body["tools"] = .array(request.tools.map {
                ["type": "function", "function": ["name": .string($0.name), "description": .string($0.description), "parameters": $0.parameters]]
            })
        }
        return .object(body)
    }
}
