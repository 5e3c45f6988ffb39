import FileAPI
import Logging
import MCP
import NIOPosix
import SandboxRuntime

/// Runs the tools of `MCPToolCatalog` for one caller, through the same protocol-typed services
/// as the HTTP controllers (ownership checked in SQL, the runtime, FileAPI, the dev server
/// launcher, preview tokens): no second path to a sandbox, the same checks and limits. Every
/// failure becomes an `isError` result (`MCPToolResult.failure`) that changes nothing.
struct MCPToolbox: Sendable {
    /// What the tools use.
    struct Services: Sendable {
        let projects: any ProjectCatalog
        let images: any ImageCatalog
        let workspaces: any WorkspaceLocating & WorkspaceProvisioning
        let sandboxes: any SandboxLookup & PreviewTokenIssuing
        let runtime: any SandboxActivating & SandboxInspecting & SandboxExecuting & SandboxRemoving & SandboxActivity & SandboxPorts
        let launcher: DevServerLauncher
        /// Upload, walk and search limits, the preview domain.
        let configuration: HostConfiguration
    }

    let services: Services
    /// File searches run here, each on a thread of its own, a bounded number at once.
    let searches: SearchPool
    let logger: Logger
    var threadPool: NIOThreadPool { .singleton }

    init(services: Services, logger: Logger) {
        self.services = services
        self.logger = logger
        searches = SearchPool(threads: max(1, services.configuration.searchThreads / 2), queue: services.configuration.searchQueue)
    }

    /// Who calls, and the `Host` they reached us by (for preview links).
    struct Caller: Sendable {
        let userID: String
        let authority: String?
    }

    /// Runs tool `name`; never throws: an unknown tool, bad arguments and every failure are
    /// `isError` results.
    func call(_ name: String, _ arguments: [String: Value]?, caller: Caller) async -> CallTool.Result {
        do {
            switch name {
            case "create_sandbox": return try await createSandbox(try MCPArguments(arguments, allowed: ["name", "project_id"]), caller)
            case "list_sandboxes": return try await listSandboxes(try MCPArguments(arguments, allowed: []), caller)
            case "run_command":
                return try await runCommand(try MCPArguments(arguments, allowed: ["sandbox_id", "command", "timeout", "cwd", "env"]), caller)
            case "read_file": return try await readFile(try MCPArguments(arguments, allowed: ["sandbox_id", "path"]), caller)
            case "write_file": return try await writeFile(try MCPArguments(arguments, allowed: ["sandbox_id", "path", "content"]), caller)
            case "list_files": return try await listFiles(try MCPArguments(arguments, allowed: ["sandbox_id", "path"]), caller)
            case "search_files":
                return try await searchFiles(try MCPArguments(arguments, allowed: ["sandbox_id", "query", "path", "glob"]), caller)
            case "start_dev_server":
                return try await startDevServer(try MCPArguments(arguments, allowed: ["sandbox_id", "command", "port"]), caller)
            case "get_preview_url": return try await previewURL(try MCPArguments(arguments, allowed: ["sandbox_id", "port"]), caller)
            case "delete_sandbox": return try await deleteSandbox(try MCPArguments(arguments, allowed: ["sandbox_id"]), caller)
            default:
                let known = MCPToolCatalog.tools.map(\.name).joined(separator: ", ")
                throw HostError(.notFound, "unknown tool '\(name.prefix(64))'; the tools are: \(known)")
            }
        } catch {
            return MCPToolResult.failure(error, tool: name, logger: logger)
        }
    }

    /// The caller's sandbox named by `sandbox_id`; another user's answers NOT_FOUND, as a missing one.
    func ownedSandbox(_ arguments: MCPArguments, _ caller: Caller) async throws -> SandboxRecord {
        let id = try arguments.requiredString("sandbox_id")
        guard id.utf8.count <= 128, let record = try await services.sandboxes.get(id: id, userID: caller.userID) else {
            throw HostError.notFound("sandbox")
        }
        return record
    }
}
