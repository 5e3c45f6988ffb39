import AsyncHTTPClient

/// Anthropic's Messages API, streamed (`POST {base}/v1/messages`, `stream: true`).
///
/// Content arrives as blocks: `content_block_start` opens a text or `tool_use` block,
/// `content_block_delta` carries `text_delta` or `input_json_delta` fragments, and
/// `content_block_stop` closes it; `message_delta` carries the stop reason and output tokens.
/// Tool results go back as `tool_result` blocks in a user message.
public struct AnthropicProvider: ModelProvider {
    public let name = "anthropic"
    let baseURL: String
    let apiKey: String?
    let http: ProviderHTTP
    static let version = "2023-06-01"

    public init(baseURL: String, apiKey: String?, client: HTTPClient = .shared) {
        var base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        if base.hasSuffix("/v1") { base = String(base.dropLast(3)) }
        self.baseURL = base
        self.apiKey = apiKey
        self.http = ProviderHTTP(client: client)
    }

    public func complete(_ request: ModelRequest, onEvent: @Sendable (ModelStreamEvent) async throws -> Void) async throws {
        var headers = [("anthropic-version", Self.version)]
        if let apiKey, !apiKey.isEmpty { headers.append(("x-api-key", apiKey)) }
        var blocks: [Int: (type: String, id: String, name: String, json: String)] = [:]
        var usage = TokenUsage()
        var stopReason: String?
        var stopped = false
        try await http.streamEvents(url: baseURL + "/v1/messages", headers: headers, body: Self.body(request)) { event in
            let payload = try ProviderHTTP.decode(event.data)
            let type = payload["type"]?.stringValue ?? event.name ?? ""
            let index = Int(payload["index"]?.numberValue ?? 0)
            switch type {
            case "message_start":
                usage.promptTokens = Int(payload["message"]?["usage"]?["input_tokens"]?.numberValue ?? 0)
                usage.completionTokens = Int(payload["message"]?["usage"]?["output_tokens"]?.numberValue ?? 0)
            case "content_block_start":
                let block = payload["content_block"] ?? .null
                blocks[index] = (block["type"]?.stringValue ?? "", block["id"]?.stringValue ?? "", block["name"]?.stringValue ?? "", "")
                if let text = block["text"]?.stringValue, !text.isEmpty { try await onEvent(.text(text)) }
            case "content_block_delta":
                let delta = payload["delta"] ?? .null
                switch delta["type"]?.stringValue {
                case "text_delta":
                    if let text = delta["text"]?.stringValue, !text.isEmpty { try await onEvent(.text(text)) }
                case "input_json_delta":
                    blocks[index]?.json += delta["partial_json"]?.stringValue ?? ""
                default:
                    break
                }
            case "content_block_stop":
                if let block = blocks.removeValue(forKey: index), block.type == "tool_use" {
                    try await onEvent(.toolCall(ToolCall(
                        id: block.id.isEmpty ? "toolu_\(index)" : block.id, name: block.name,
                        arguments: block.json.isEmpty ? "{}" : block.json)))
                }
            case "message_delta":
                if let reason = payload["delta"]?["stop_reason"]?.stringValue { stopReason = reason }
                if let output = payload["usage"]?["output_tokens"]?.numberValue { usage.completionTokens = Int(output) }
                if let input = payload["usage"]?["input_tokens"]?.numberValue, input > 0 { usage.promptTokens = Int(input) }
            case "message_stop":
                stopped = true
            case "error":
                let message = payload["error"]?["message"]?.stringValue ?? "unknown error"
                let kind = payload["error"]?["type"]?.stringValue
                throw AgentLoopError(kind == "rate_limit_error" ? .rateLimited : .providerUnavailable, "model provider error: \(message)")
            default:
                break // ping and event types added later
            }
        }
        guard stopped else {
            throw AgentLoopError(.protocolViolation, "the model provider's stream ended before message_stop")
        }
        try await onEvent(.usage(usage))
        try await onEvent(.finished(stopReason ?? "end_turn"))
    }

    static func body(_ request: ModelRequest) -> JSONValue {
        var messages: [(role: String, content: [JSONValue])] = []
        func append(_ role: String, _ block: JSONValue) {
            // The API wants user and assistant turns alternating: consecutive blocks of one role merge.
            if messages.last?.role == role { messages[messages.count - 1].content.append(block) } else { messages.append((role, [block])) }
        }
        for message in request.messages {
            switch message.role {
            case .user:
                append("user", ["type": "text", "text": .string(message.text.isEmpty ? " " : message.text)])
            case .assistant:
                if !message.text.isEmpty { append("assistant", ["type": "text", "text": .string(message.text)]) }
                for call in message.toolCalls {
                    // `input` must be an object; malformed arguments were already answered with an error.
                    let input = JSONValue.parse(call.arguments).flatMap { $0.objectValue.map(JSONValue.object) } ?? .object([:])
                    append("assistant", ["type": "tool_use", "id": .string(call.id), "name": .string(call.name), "input": input])
                }
                if message.text.isEmpty && message.toolCalls.isEmpty { append("assistant", ["type": "text", "text": " "]) }
            case .tool:
                append("user", ["type": "tool_result", "tool_use_id": .string(message.toolCallID ?? ""), "content": .string(message.text)])
            }
        }
        var body: [String: JSONValue] = [
            "model": .string(request.model), "max_tokens": .number(Double(request.maxTokens)), "stream": true,
            "system": .string(request.system),
            "messages": .array(messages.map { ["role": .string($0.role), "content": .array($0.content)] }),
        ]
        if !request.tools.isEmpty {
            body["tools"] = .array(request.tools.map {
                ["name": .string($0.name), "description": .string($0.description), "input_schema": $0.parameters]
            })
        }
        return .object(body)
    }
}
