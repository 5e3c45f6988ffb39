import FileAPI
import Foundation
import Logging
import MCP
import SandboxRuntime

/// Tool results as the MCP spec asks: `structuredContent` (a JSON object) and the same as text
/// for clients that only read text; failures as `isError` results carrying the contract's code
/// and message (`{"code","detail"}`), never a host path: an internal failure is logged here
/// and answered as a plain `INTERNAL_ERROR`.
enum MCPToolResult {
    /// A success: `text` for the model (JSON of `value` when nil), `value` as structured content.
    static func success<T: Encodable>(_ value: T, text: String? = nil) throws -> CallTool.Result {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        let structured = try JSONDecoder().decode(Value.self, from: data)
        return CallTool.Result(content: [Self.text(text ?? String(decoding: data, as: UTF8.self))], structuredContent: Optional(structured), isError: false)
    }

    static func text(_ text: String) -> Tool.Content { .text(text: text, annotations: nil, _meta: nil) }

    static func failure(_ error: any Error, tool: String, logger: Logger) -> CallTool.Result {
        let hostError: HostError = switch error {
        case let error as HostError: error
        case let error as FileAPIError: HostError(error)
        case let error as RuntimeError: HostError(error)
        default: HostError.internalError("tool failed", cause: error)
        }
        var detail = hostError.message
        if hostError.code == .internalError {
            logger.error("MCP tool failed", metadata: ["tool": "\(tool)", "error": "\(hostError)"])
            detail = "internal error"
        }
        let code = hostError.code.apiCode
        return CallTool.Result(
            content: [Self.text("\(code): \(detail)")],
            structuredContent: Optional(["code": .string(code), "detail": .string(detail)]),
            isError: true)
    }
}
