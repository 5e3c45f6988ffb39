import Foundation

/// Runs the model's tool calls against a sandbox: checks the arguments against each tool's
/// schema, calls the sandbox, and answers text the model reads. Nothing here throws at the loop
/// except cancellation: a bad call or a failing tool is a failed result the model can correct.
public struct Toolbox: Sendable {
    let sandbox: any SandboxTools
    /// A result longer than this is cut, head and tail kept.
    public var maxResultBytes: Int
    /// A file larger than this is not read whole (`read_file` says to use `shell`).
    public var maxReadBytes = 64 << 20

    public init(sandbox: any SandboxTools, maxResultBytes: Int = 30_000) {
        self.sandbox = sandbox
        self.maxResultBytes = maxResultBytes
    }

    public var definitions: [ToolDefinition] { ToolDefinition.catalog }

    /// What a tool call produced: the text for the model and whether the tool succeeded.
    public struct Outcome: Sendable, Equatable {
        public var text: String
        public var success: Bool
    }

    public func run(_ call: ToolCall) async -> Outcome {
        guard let definition = ToolDefinition.catalog.first(where: { $0.name == call.name }) else {
            let names = ToolDefinition.catalog.map(\.name).joined(separator: ", ")
            return Outcome(text: "error: there is no tool '\(call.name.prefix(80))'; the tools are \(names)", success: false)
        }
        do {
            let arguments = try ToolArguments(call.arguments, schema: definition.parameters, tool: call.name)
            let (text, success) = try await perform(call.name, arguments)
            return Outcome(text: OutputTruncation.cut(text, maxBytes: maxResultBytes), success: success)
        } catch let error as AgentLoopError {
            return Outcome(text: "error: " + OutputTruncation.cut(error.message, maxBytes: maxResultBytes), success: false)
        } catch {
            return Outcome(text: "error: " + OutputTruncation.cut(String(describing: error), maxBytes: maxResultBytes), success: false)
        }
    }

    private func perform(_ name: String, _ arguments: ToolArguments) async throws -> (String, Bool) {
        switch name {
        case "shell": return try await shell(arguments)
        case "read_file": return (try await readFile(arguments), true)
        case "write_file":
            let path = arguments.string("path")!, content = arguments.string("content")!
            try await sandbox.writeFile(path: path, content: Array(content.utf8))
            return ("wrote \(content.utf8.count) bytes to \(path)", true)
        case "edit_file": return (try await editFile(arguments), true)
        case "list_files":
            let depth = arguments.int("depth") ?? 3
            guard (1...10).contains(depth) else { throw AgentLoopError(.invalidArguments, "list_files: depth must be from 1 to 10") }
            let listing = try await sandbox.listFiles(path: arguments.string("path") ?? "/workspace", depth: depth)
            return (listing.isEmpty ? "(empty)" : listing, true)
        case "search_files":
            let query = arguments.string("query")!
            guard !query.isEmpty else { throw AgentLoopError(.invalidArguments, "search_files: query must not be empty") }
            let found = try await sandbox.searchFiles(query: query, path: arguments.string("path") ?? "/workspace", glob: arguments.string("glob"))
            return (found.isEmpty ? "no matches" : found, true)
        case "delete_file":
            try await sandbox.deleteFile(path: arguments.string("path")!)
            return ("deleted \(arguments.string("path")!)", true)
        case "start_dev_server":
            return (try await sandbox.startDevServer(command: arguments.string("command"), port: arguments.int("port")), true)
        case "get_preview_url":
            let port = arguments.int("port")!
            guard (1...65535).contains(port) else { throw AgentLoopError(.invalidArguments, "get_preview_url: port must be from 1 to 65535") }
            return (try await sandbox.previewURL(port: port), true)
        default:
            throw AgentLoopError(.invalidArguments, "there is no tool '\(name)'")
        }
    }

    private func shell(_ arguments: ToolArguments) async throws -> (String, Bool) {
        let command = arguments.string("command")!
        guard !command.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw AgentLoopError(.invalidArguments, "shell: command must not be empty")
        }
        let timeout = arguments.number("timeout") ?? 120
        guard timeout > 0, timeout <= 3600 else { throw AgentLoopError(.invalidArguments, "shell: timeout must be from 0 to 3600 seconds") }
        let outcome = try await sandbox.shell(command: command, timeoutSeconds: timeout, cwd: arguments.string("cwd"), session: arguments.string("session_name"))
        guard let exitCode = outcome.exitCode else { return (outcome.output, true) }
        var text = outcome.output
        if outcome.truncated { text += "\n[output beyond the sandbox's cap was dropped]" }
        if outcome.timedOut { text += "\n[timed out after \(timeout) s; everything the command started was killed]" }
        return ("exit code: \(exitCode)\n" + text, exitCode == 0 && !outcome.timedOut)
    }

    private func readText(_ path: String) async throws -> String {
        let bytes = try await sandbox.readFile(path: path, maxBytes: maxReadBytes)
        if bytes.prefix(8192).contains(0) {
            throw AgentLoopError(.toolFailed, "\(path) is a binary file (\(bytes.count) bytes); inspect it with shell tools")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func readFile(_ arguments: ToolArguments) async throws -> String {
        let path = arguments.string("path")!
        let text = try await readText(path)
        let start = arguments.int("start_line"), end = arguments.int("end_line")
        guard start != nil || end != nil else { return text }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let first = max(1, start ?? 1), last = min(lines.count, end ?? lines.count)
        guard first <= max(lines.count, 1) else {
            throw AgentLoopError(.invalidArguments, "read_file: \(path) has \(lines.count) lines; start_line \(first) is past its end")
        }
        guard first <= last else { throw AgentLoopError(.invalidArguments, "read_file: end_line must not be before start_line") }
        return (first...last).map { "\($0)\t\(lines[$0 - 1])" }.joined(separator: "\n")
    }

    private func editFile(_ arguments: ToolArguments) async throws -> String {
        let path = arguments.string("path")!, old = arguments.string("old_string")!, new = arguments.string("new_string")!
        guard !old.isEmpty else { throw AgentLoopError(.invalidArguments, "edit_file: old_string must not be empty") }
        let text = try await readText(path)
        let count = text.components(separatedBy: old).count - 1
        guard count > 0 else {
            throw AgentLoopError(.toolFailed, "edit_file: old_string was not found in \(path); read the file and copy the text exactly")
        }
        let all = arguments.bool("replace_all") ?? false
        guard count == 1 || all else {
            throw AgentLoopError(.toolFailed, "edit_file: old_string occurs \(count) times in \(path); include more surrounding text to make it unique, or set replace_all")
        }
        let updated = all ? text.replacingOccurrences(of: old, with: new) : text.replacingFirst(old, with: new)
        try await sandbox.writeFile(path: path, content: Array(updated.utf8))
        return "replaced \(all ? count : 1) occurrence\(all && count > 1 ? "s" : "") in \(path)"
    }
}

private extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
