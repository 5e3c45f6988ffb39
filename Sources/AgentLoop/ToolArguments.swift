import Foundation

/// A tool call's arguments, parsed and checked against the tool's JSON Schema (object,
/// `required`, and the `type` of each property), so a tool body reads typed values.
struct ToolArguments: Sendable {
    let values: [String: JSONValue]

    /// Parses and checks; the error says what to change, for the model to correct itself.
    init(_ text: String, schema: JSONValue, tool: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let parsed = JSONValue.parse(trimmed.isEmpty ? "{}" : trimmed) else {
            throw AgentLoopError(.invalidArguments, "the arguments of \(tool) are not valid JSON: \(text.prefix(200))")
        }
        guard let object = parsed.objectValue else {
            throw AgentLoopError(.invalidArguments, "the arguments of \(tool) must be a JSON object")
        }
        let properties = schema["properties"]?.objectValue ?? [:]
        for required in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where object[required] == nil || object[required] == .null {
            throw AgentLoopError(.invalidArguments, "\(tool) needs the argument '\(required)'")
        }
        for (name, value) in object where value != .null {
            guard let property = properties[name] else {
                throw AgentLoopError(.invalidArguments, "\(tool) has no argument '\(name)'; it takes \(properties.keys.sorted().joined(separator: ", "))")
            }
            guard let type = property["type"]?.stringValue else { continue }
            guard Self.matches(value, type) else {
                throw AgentLoopError(.invalidArguments, "\(tool): argument '\(name)' must be a \(type)")
            }
        }
        values = object
    }

    static func matches(_ value: JSONValue, _ type: String) -> Bool {
        switch (type, value) {
        case ("string", .string), ("boolean", .bool), ("number", .number), ("object", .object), ("array", .array): true
        case ("integer", .number(let number)): number.rounded() == number
        default: false
        }
    }

    func string(_ name: String) -> String? { values[name]?.stringValue }
    func bool(_ name: String) -> Bool? { values[name]?.boolValue }
    func int(_ name: String) -> Int? { values[name]?.numberValue.map { Int(exactly: $0.rounded()) ?? 0 } }
    func number(_ name: String) -> Double? { values[name]?.numberValue }
}
