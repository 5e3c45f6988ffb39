/// A call the model asked for: its id (echoed back with the result), the tool's name, and the
/// arguments exactly as the model wrote them (JSON text, possibly malformed).
public struct ToolCall: Sendable, Equatable, Codable {
    public let id: String
    public let name: String
    public let arguments: String

    public init(id: String, name: String, arguments: String) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }
}
