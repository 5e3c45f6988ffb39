import AgentLoop
import FileAPI
import Foundation
import NIOPosix
import SandboxRuntime
#if canImport(Glibc)
import Glibc
#endif

/// The agent's tools on one sandbox, through the same runtime and file services as the HTTP
/// API (and so under the same path rules, limits and quota). Errors become `AgentLoopError`s
/// whose message a model may read: sandbox paths only, never host ones.
struct SandboxToolbox: SandboxTools {
    let record: SandboxRecord
    let runtime: SandboxRuntime
    let workspacePath: String
    let configuration: HostConfiguration
    let workspaces: WorkspaceStore
    let sandboxes: SandboxStore
    let devServers: DevServerRegistry
    var threadPool: NIOThreadPool { .singleton }

    func shell(command: String, timeoutSeconds: Double, cwd: String?, session: String?) async throws -> ShellOutcome {
        guard !command.utf8.contains(0) else { throw AgentLoopError(.invalidArguments, "shell: the command contains a NUL byte") }
        var exec = ExecRequest(command: command)
        exec.timeoutSeconds = timeoutSeconds
        if let cwd, !cwd.isEmpty {
            guard !cwd.utf8.contains(0) else { throw AgentLoopError(.invalidArguments, "shell: cwd contains a NUL byte") }
            exec.cwd = cwd.hasPrefix("/") ? cwd : "/workspace/" + cwd
        }
        do {
            if let session {
                guard SandboxRuntime.validSessionName(session) else {
                    throw AgentLoopError(.invalidArguments, "shell: session_name may hold letters, digits, '-', '_' and '.', up to 64")
                }
                let id = try await runtime.startInSession(record, exec, sessionName: session)
                return ShellOutcome(output: "started in session '\(session)' as command \(id); it keeps running in the background", exitCode: nil)
            }
            let result = try await runtime.execute(record, exec)
            return ShellOutcome(output: result.output, exitCode: result.exit_code, timedOut: result.timed_out, truncated: result.truncated)
        } catch let error as HostError {
            throw AgentLoopError(.toolFailed, error.message)
        } catch let error as RuntimeError {
            throw AgentLoopError(.toolFailed, error.message)
        }
    }

    func readFile(path: String, maxBytes: Int) async throws -> [UInt8] {
        try await files { root in
            switch try root.readWhole(try WorkspacePath(path), maxBytes: Int64(maxBytes)) {
            case .bytes(let bytes): return bytes
            case .tooLarge(let size):
                throw AgentLoopError(.toolFailed, "\(path) is \(size) bytes, too large to read whole; use shell (head, tail, sed -n, grep)")
            }
        }
    }

    func writeFile(path: String, content: [UInt8]) async throws {
        let budget = WriteBudget(
            configuration: configuration, staging: workspaces.stagingPath(projectID: record.projectID), usesDiskImages: workspaces.usesDiskImages)
        try await files(writing: true) { root in
            _ = try budget.writeWhole(content, to: try WorkspacePath(path), in: root)
        }
    }

    func listFiles(path: String, depth: Int) async throws -> String {
        try await files { root in
            var lines: [String] = []
            func render(_ nodes: [TreeNode], indent: String) {
                for node in nodes where lines.count < 2000 {
                    if node.isDirectory {
                        lines.append(indent + node.name + "/" + (node.heavy ? "  (not listed)" : ""))
                        render(node.children ?? [], indent: indent + "  ")
                    } else {
                        lines.append(indent + node.name + (node.isSymlink ? "  (link)" : "  \(node.size ?? 0) B"))
                    }
                }
            }
            let tree = try root.tree(try WorkspacePath(path), depth: depth, all: false)
            render(tree.nodes, indent: "")
            if lines.count >= 2000 { lines.append("[listing cut at 2000 entries; list a subdirectory]") }
            return lines.joined(separator: "\n")
        }
    }

    func searchFiles(query: String, path: String, glob: String?) async throws -> String {
        try await files { root in
            let (matches, truncated) = try root.search(try WorkspacePath(path), SearchOptions(query: query, glob: glob))
            var text = matches.map { "\($0.path):\($0.line): \($0.text)" }.joined(separator: "\n")
            if truncated { text += "\n[more matches not shown; narrow the search]" }
            return text
        }
    }

    func deleteFile(path: String) async throws {
        try await files(writing: true) { root in
            let target = try WorkspacePath(path)
            guard !target.isRoot else { throw AgentLoopError(.invalidArguments, "delete_file: the workspace itself cannot be deleted") }
            try root.delete(target)
        }
    }

    func startDevServer(command: String?, port: Int?) async throws -> String {
        do {
            let launched = try await DevServerLauncher(runtime: runtime, workspaces: workspaces, registry: devServers)
                .start(record, command: command, port: port, session: DevServerLauncher.defaultSession)
            return "started `\(launched.command)` in session '\(DevServerLauncher.defaultSession)'"
                + (launched.detected ? " (chosen from the project)" : "") + "; once it listens, get_preview_url gives its URL"
        } catch let error as HostError {
            throw AgentLoopError(.toolFailed, error.message)
        } catch let error as RuntimeError {
            throw AgentLoopError(.toolFailed, error.message)
        }
    }

    func previewURL(port: Int) async throws -> String {
        guard await runtime.listeningPorts(record.id).contains(port) else {
            return "nothing listens on port \(port) in the sandbox yet (a dev server may still be starting)"
        }
        let token = try await sandboxes.previewToken(id: record.id)
        return "http://\(port)-\(record.id).\(configuration.previewDomain):\(configuration.port)/?\(PreviewCookie.queryName)=\(token)"
    }

    /// Opens the workspace and runs `body` on the thread pool, or when `writing`, on a thread of
    /// its own (a write waits for its file system as long as that takes, and must not hold the
    /// shared pool every file route uses; see `FilesController.write`). FileAPI errors become
    /// tool errors.
    private func files<T: Sendable>(
        writing: Bool = false, _ body: @Sendable @escaping (WorkspaceRoot) throws -> T
    ) async throws -> T {
        let path = workspacePath
        do {
            if writing { return try await DedicatedThread.run("agent file write") { try body(try WorkspaceRoot(path: path)) } }
            return try await threadPool.runIfActive { try body(try WorkspaceRoot(path: path)) }
        } catch let error as FileAPIError {
            throw AgentLoopError(.toolFailed, error.message)
        }
    }
}
