import AgentLoop
import ArgumentParser
import CSandbox
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
#if canImport(Glibc)
import Glibc
#endif

/// `sandbox-host shell PROJECT`: an interactive shell in a project's sandbox, over a running
/// host's API: a terminal (`POST …/pty`) the size of this one, this terminal in raw mode, keys
/// and output relayed over its WebSocket, resizes sent on SIGWINCH. Exits with the shell's code.
struct ShellCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shell", abstract: "Open an interactive shell in a project's sandbox (started if stopped).")

    @Argument(help: "The project's id or name.") var project: String
    @Option(help: "The host's URL (default: $SANDBOX_HOST_URL, else http://127.0.0.1:8000).") var url: String?
    @Option(help: "An API key (default: $SANDBOX_HOST_API_KEY).") var key: String?
    @Option(help: "What to run instead of a login shell.") var command: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let key = key ?? environment["SANDBOX_HOST_API_KEY"], !key.isEmpty else {
            throw ValidationError("pass --key or set SANDBOX_HOST_API_KEY")
        }
        var base = url ?? environment["SANDBOX_HOST_URL"] ?? "http://127.0.0.1:8000"
        while base.hasSuffix("/") { base.removeLast() }
        guard let parsed = URL(string: base), parsed.scheme == "http", let hostName = parsed.host else {
            throw ValidationError("--url must be http://HOST[:PORT]")
        }
        let api = HostAPIClient(baseURL: base, key: key)
        let projects = try await api.call(.GET, "/api/projects")["projects"]?.arrayValue ?? []
        guard let match = projects.first(where: { $0["project_id"]?.stringValue == project || $0["name"]?.stringValue == project }),
              let projectID = match["project_id"]?.stringValue
        else { throw ValidationError("no project '\(project)' for this key") }
        let sandbox = try await api.call(.POST, "/api/project/\(projectID)/sandbox/ensure-active")["sandbox_id"]?.stringValue ?? ""
        let size = Self.windowSize() ?? (80, 24)
        var body: [String: JSONValue] = ["cols": .number(Double(size.columns)), "rows": .number(Double(size.rows))]
        if let command { body["command"] = .string(command) }
        let opened = try await api.call(.POST, "/api/sandboxes/\(sandbox)/pty", .object(body))
        guard let terminal = opened["pty_id"]?.stringValue else { throw ValidationError("the host did not open a terminal") }

        let channel = try await ShellSocket.connect(
            host: hostName, port: parsed.port ?? 80, path: "/api/sandboxes/\(sandbox)/pty/\(terminal)/ws", key: key)
        let restore = RawMode.enter()
        defer { restore?() }
        let code = try await ShellSocket.relay(channel)
        restore?()
        throw ExitCode(Int32(truncatingIfNeeded: code))
    }

    /// This terminal's size, when standard output is one.
    static func windowSize() -> (columns: Int, rows: Int)? {
        var columns: UInt16 = 0, rows: UInt16 = 0
        guard csb_get_window_size(1, &columns, &rows) == 0, columns > 0, rows > 0 else { return nil }
        return (Int(min(columns, 1000)), Int(min(rows, 1000)))
    }
}

/// Standard input in raw mode (no echo, no line editing, no signals from ^C: they go to the
/// sandbox's terminal) while the shell runs; `enter` answers how to restore it, nil when
/// standard input is not a terminal.
enum RawMode {
    static func enter() -> (@Sendable () -> Void)? {
        guard isatty(0) == 1 else { return nil }
        var saved = termios()
        guard tcgetattr(0, &saved) == 0 else { return nil }
        var raw = saved
        cfmakeraw(&raw)
        _ = tcsetattr(0, TCSANOW, &raw)
        let original = saved
        return {
            var restored = original
            _ = tcsetattr(0, TCSANOW, &restored)
        }
    }
}
