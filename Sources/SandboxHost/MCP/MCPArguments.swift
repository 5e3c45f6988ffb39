import Foundation
import MCP

/// A tool call's arguments, read by name with the checks the HTTP routes make; each failure is
/// a 422 naming the argument (the tool answers it as an `isError` result). Unknown names are
/// refused too: a model that misspells `timeout` learns it instead of waiting 60 s.
struct MCPArguments: Sendable {
    let values: [String: Value]

    init(_ values: [String: Value]?, allowed: [String]) throws {
        self.values = values ?? [:]
        if let unknown = self.values.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw HostError(.unprocessable, "unknown argument '\(unknown.prefix(64))'; this tool takes: \(allowed.joined(separator: ", "))")
        }
    }

    private func present(_ name: String) -> Value? {
        guard let value = values[name], !value.isNull else { return nil }
        return value
    }

    func string(_ name: String) throws -> String? {
        guard let value = present(name) else { return nil }
        if let text = value.stringValue { return text }
        // The SDK decodes a string that looks like a data URL as `.data`; it was a string.
        if case .data = value, let data = try? JSONEncoder().encode(value), let text = try? JSONDecoder().decode(String.self, from: data) {
            return text
        }
        throw HostError(.unprocessable, "argument '\(name)' must be a string")
    }

    func requiredString(_ name: String) throws -> String {
        guard let text = try string(name), !text.isEmpty else { throw HostError(.unprocessable, "argument '\(name)' is required") }
        return text
    }

    func int(_ name: String) throws -> Int? {
        guard let value = present(name) else { return nil }
        if let number = value.intValue { return number }
        if let number = value.doubleValue, number.rounded() == number, abs(number) < 1e15 { return Int(number) }
        throw HostError(.unprocessable, "argument '\(name)' must be a whole number")
    }

    func double(_ name: String) throws -> Double? {
        guard let value = present(name) else { return nil }
        if let number = value.doubleValue { return number }
        if let number = value.intValue { return Double(number) }
        throw HostError(.unprocessable, "argument '\(name)' must be a number")
    }

    /// An object of strings (`env`).
    func stringMap(_ name: String) throws -> [String: String]? {
        guard let value = present(name) else { return nil }
        guard let object = value.objectValue else { throw HostError(.unprocessable, "argument '\(name)' must be an object of strings") }
        var map: [String: String] = [:]
        for (key, item) in object {
            guard let text = item.stringValue else { throw HostError(.unprocessable, "argument '\(name).\(key.prefix(64))' must be a string") }
            map[key] = text
        }
        return map
    }
}
