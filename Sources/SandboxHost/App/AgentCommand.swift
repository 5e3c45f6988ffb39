import AgentLoop
import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// `sandbox-host agent run --project NAME "prompt"`: runs the agent on a project of a running
/// host, over its HTTP API, and prints the run as it streams.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "agent", abstract: "Run the coding agent.", subcommands: [Run.self])

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the agent on a project (created when missing) and print the run as it streams.")

        @Option(help: "The project's name; created when the key's user has none by that name.") var project: String
        @Option(help: "The model (default: the host's default; see /api/models/available).") var model: String?
        @Option(help: "Continue this thread instead of starting a new one.") var thread: String?
        @Option(help: "Most model calls in the run.") var maxSteps: Int = 50
        @Option(help: "The host's URL (default: $SANDBOX_HOST_URL, else http://127.0.0.1:8000).") var url: String?
        @Option(help: "An API key (default: $SANDBOX_HOST_API_KEY).") var apiKey: String?
        @Argument(help: "What the agent should do.") var prompt: String

        func run() async throws {
            let environment = ProcessInfo.processInfo.environment
            guard let key = apiKey ?? environment["SANDBOX_HOST_API_KEY"], !key.isEmpty else {
                throw ValidationError("pass --api-key or set SANDBOX_HOST_API_KEY (`make run` printed one; `sandbox-host keys create --user admin` makes another)")
            }
            var base = url ?? environment["SANDBOX_HOST_URL"] ?? "http://127.0.0.1:8000"
            while base.hasSuffix("/") { base.removeLast() }
            let api = HostAPIClient(baseURL: base, key: key)

            let threadID: String
            if let thread {
                threadID = thread
            } else {
                let projectID = try await api.projectID(named: project)
                threadID = try await api.call(.POST, "/api/threads", ["project_id": .string(projectID)])["thread_id"]?.stringValue ?? ""
            }
            var body: [String: JSONValue] = ["message": .string(prompt), "max_steps": .number(Double(maxSteps))]
            if let model { body["model_name"] = .string(model) }
            let started = try await api.call(.POST, "/api/thread/\(threadID)/agent/start", .object(body))
            guard let runID = started["agent_run_id"]?.stringValue else { throw ValidationError("the host did not start a run") }
            RunPrinter.write("run \(runID) on thread \(threadID)\n")
            let status = try await api.follow(runID) { event in
                if let line = RunPrinter.line(for: event) { RunPrinter.write(line) }
            }
            if status != "completed" { throw ExitCode(1) }
        }
    }
}

/// The few calls the CLI makes, with the contract's error bodies turned into messages.
struct HostAPIClient {
    let baseURL: String
    let key: String
    var client: HTTPClient { .shared }

    func call(_ method: HTTPMethod, _ path: String, _ body: JSONValue? = nil) async throws -> JSONValue {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body.jsonText))
        }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(60))
        } catch {
            throw ValidationError("cannot reach the host at \(baseURL): is it running? (\(error))")
        }
        let data = try await response.body.collect(upTo: 16 << 20)
        let json = JSONValue.parse(Data(buffer: data)) ?? .null
        guard (200..<300).contains(Int(response.status.code)) else {
            throw ValidationError("\(method) \(path): \(response.status.code) \(json["detail"]?.stringValue ?? String(buffer: data))")
        }
        return json
    }

    func projectID(named name: String) async throws -> String {
        let projects = try await call(.GET, "/api/projects")["projects"]?.arrayValue ?? []
        if let found = projects.first(where: { $0["name"]?.stringValue == name })?["project_id"]?.stringValue { return found }
        guard let created = try await call(.POST, "/api/projects", ["name": .string(name)])["project_id"]?.stringValue else {
            throw ValidationError("the host did not create the project")
        }
        return created
    }

    /// Follows the run's stream to its end, resuming after a dropped connection; answers the
    /// final status.
    func follow(_ runID: String, onEvent: (JSONValue) -> Void) async throws -> String {
        var last = 0
        for _ in 0..<10 {
            var request = HTTPClientRequest(url: baseURL + "/api/agent-run/\(runID)/stream")
            request.headers.add(name: "Authorization", value: "Bearer \(key)")
            request.headers.add(name: "Last-Event-ID", value: String(last))
            var final: String?
            do {
                let response = try await client.execute(request, timeout: .seconds(60))
                var parser = EventStreamParser()
                for try await buffer in response.body {
                    for event in parser.feed(buffer.readableBytesView) {
                        guard let payload = JSONValue.parse(event.data), payload["type"]?.stringValue != "ping" else { continue }
                        last = Int(payload["sequence"]?.numberValue ?? Double(last))
                        onEvent(payload)
                        if payload["type"]?.stringValue == "status", let status = payload["status"]?.stringValue, status != "running" { final = status }
                    }
                }
            } catch {
                try await Task.sleep(for: .seconds(1))
                continue
            }
            if let final { return final }
        }
        return try await call(.GET, "/api/agent-run/\(runID)")["status"]?.stringValue ?? "unknown"
    }
}

/// How a run looks on a terminal: the text as it streams, one line per tool call and result.
enum RunPrinter {
    static func line(for event: JSONValue) -> String? {
        switch event["type"]?.stringValue {
        case "content":
            return event["content"]?.stringValue
        case "tool_call":
            let arguments = event["arguments"]?.jsonText ?? "{}"
            return "\n→ \(event["tool"]?.stringValue ?? "?") \(arguments.count > 200 ? String(arguments.prefix(200)) + "…" : arguments)\n"
        case "tool_result":
            let result = event["result"]?.stringValue ?? ""
            let lines = result.split(separator: "\n", omittingEmptySubsequences: false)
            let first = lines.first.map { $0.count > 120 ? String($0.prefix(120)) + "…" : String($0) } ?? ""
            let more = lines.count > 1 ? " (+\(lines.count - 1) lines)" : ""
            return "  \(event["success"]?.boolValue == true ? "✓" : "✗") \(first)\(more)\n"
        case "error":
            return "\nerror: \(event["message"]?.stringValue ?? "")\n"
        case "status":
            let status = event["status"]?.stringValue ?? ""
            guard status != "running" else { return nil }
            return "\n[\(status)\(event["message"]?.stringValue.map { ": \($0)" } ?? "")]\n"
        default:
            return nil
        }
    }

    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
