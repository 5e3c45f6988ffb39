import AsyncHTTPClient
import Foundation

/// Which model provider the host talks to, from the environment or `DATA_DIR/config.json`
/// (the same keys; the environment wins).
///
/// `SANDBOX_HOST_LLM_PROVIDER` (`openai` for any Chat Completions server, or `anthropic`),
/// `SANDBOX_HOST_LLM_BASE_URL`, `SANDBOX_HOST_LLM_API_KEY`, `SANDBOX_HOST_LLM_MODELS`
/// (comma-separated, the first the default); `OPENAI_API_KEY`/`OPENAI_BASE_URL` and
/// `ANTHROPIC_API_KEY`/`ANTHROPIC_BASE_URL` as the conventional fallbacks.
/// The key is never part of `description` or of any message.
public struct ProviderConfiguration: Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable { case openai, anthropic }

    public let kind: Kind
    public let baseURL: String
    let apiKey: String?
    public let models: [String]
    /// The model's context window in tokens; older tool output is trimmed to stay inside it.
    public let contextTokens: Int

    public var defaultModel: String { models[0] }

    public static let howToConfigure = """
        no model provider is configured: set SANDBOX_HOST_LLM_PROVIDER (openai or anthropic), \
        SANDBOX_HOST_LLM_BASE_URL, SANDBOX_HOST_LLM_API_KEY and SANDBOX_HOST_LLM_MODELS (or OPENAI_API_KEY / \
        ANTHROPIC_API_KEY) in the host's environment or in DATA_DIR/config.json, then restart the host
        """

    public var description: String { "\(kind.rawValue) at \(ProviderHTTP.redacted(baseURL)), models \(models.joined(separator: ","))" }

    /// The configuration, nil when nothing is configured; throws `.notConfigured` when what is
    /// configured cannot work (an unknown provider, a base URL that is not http(s)).
    public static func load(environment: [String: String], configFile: String?) throws -> ProviderConfiguration? {
        var values: [String: String] = [:]
        if let configFile, let data = FileManager.default.contents(atPath: configFile) {
            guard let object = JSONValue.parse(data)?.objectValue else {
                throw AgentLoopError(.notConfigured, "\(configFile) is not a JSON object")
            }
            for (key, value) in object {
                if let text = value.stringValue { values[key] = text } else if let number = value.numberValue { values[key] = String(Int(number)) }
            }
        }
        for (key, value) in environment where !value.isEmpty { values[key] = value }

        let kind: Kind
        if let name = values["SANDBOX_HOST_LLM_PROVIDER"] {
            guard let known = Kind(rawValue: name.lowercased()) else {
                throw AgentLoopError(.notConfigured, "SANDBOX_HOST_LLM_PROVIDER is '\(name.prefix(40))'; use openai or anthropic")
            }
            kind = known
        } else if values["SANDBOX_HOST_LLM_BASE_URL"] != nil || values["SANDBOX_HOST_LLM_API_KEY"] != nil || values["OPENAI_API_KEY"] != nil || values["OPENAI_BASE_URL"] != nil {
            kind = .openai
        } else if values["ANTHROPIC_API_KEY"] != nil || values["ANTHROPIC_BASE_URL"] != nil {
            kind = .anthropic
        } else {
            return nil
        }
        let baseURL: String, apiKey: String?, fallbackModel: String
        switch kind {
        case .openai:
            baseURL = values["SANDBOX_HOST_LLM_BASE_URL"] ?? values["OPENAI_BASE_URL"] ?? "https://api.openai.com/v1"
            apiKey = values["SANDBOX_HOST_LLM_API_KEY"] ?? values["OPENAI_API_KEY"]
            fallbackModel = "gpt-4.1-mini"
        case .anthropic:
            baseURL = values["SANDBOX_HOST_LLM_BASE_URL"] ?? values["ANTHROPIC_BASE_URL"] ?? "https://api.anthropic.com"
            apiKey = values["SANDBOX_HOST_LLM_API_KEY"] ?? values["ANTHROPIC_API_KEY"]
            fallbackModel = "claude-sonnet-4-5"
        }
        guard let url = URL(string: baseURL), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil else {
            throw AgentLoopError(.notConfigured, "the model provider's base URL must be an http(s) URL")
        }
        let models = (values["SANDBOX_HOST_LLM_MODELS"] ?? fallbackModel).split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !models.isEmpty else { throw AgentLoopError(.notConfigured, "SANDBOX_HOST_LLM_MODELS names no model") }
        let context = values["SANDBOX_HOST_LLM_CONTEXT_TOKENS"].flatMap(Int.init) ?? 128_000
        return ProviderConfiguration(kind: kind, baseURL: baseURL, apiKey: apiKey, models: models, contextTokens: max(4_000, context))
    }

    /// The provider client for this configuration.
    public func makeProvider(client: HTTPClient = .shared) -> any ModelProvider {
        switch kind {
        case .openai: OpenAIChatProvider(baseURL: baseURL, apiKey: apiKey, client: client)
        case .anthropic: AnthropicProvider(baseURL: baseURL, apiKey: apiKey, client: client)
        }
    }
}
