import AgentLoop
import MCP
import SandboxRuntime

/// create_sandbox, list_sandboxes, run_command, delete_sandbox: the Projects and Sandboxes routes.
extension MCPToolbox {
    struct Created: Encodable, Sendable {
        let sandbox_id: String
        let project_id: String
        let state = "running"
    }

    /// A new project (as `POST /api/projects` makes it) and its sandbox started (as
    /// `ensure-active`); or, given `project_id`, that project's sandbox started.
    func createSandbox(_ arguments: MCPArguments, _ caller: Caller) async throws -> CallTool.Result {
        let project: Project
        if let projectID = try arguments.string("project_id") {
            guard projectID.utf8.count <= 128, let found = try await services.projects.get(id: projectID, userID: caller.userID) else {
                throw HostError.notFound("project")
            }
            project = found
        } else {
            let name = try Validation.text(try arguments.string("name") ?? "mcp-sandbox", field: "name", maxLength: 200)
            guard services.images.exists("default") else { throw HostError(.unprocessable, "the host has no default image") }
            project = try await services.projects.create(userID: caller.userID, name: name, description: nil, image: "default")
            do {
                try await services.workspaces.create(projectID: project.id)
            } catch {
                _ = try? await services.projects.delete(id: project.id, userID: caller.userID)
                throw HostError.internalError("cannot create the project's workspace", cause: error)
            }
        }
        let record = try await services.runtime.ensureActive(projectID: project.id, image: project.image)
        return try MCPToolResult.success(Created(sandbox_id: record.id, project_id: project.id))
    }

    struct Listed: Encodable, Sendable {
        struct Entry: Encodable, Sendable {
            @NullEncoded var sandbox_id: String?
            let project_id: String
            let project_name: String
            /// running, stopped, or none (the project has no sandbox: create_sandbox with its project_id).
            let state: String
        }
        let sandboxes: [Entry]
    }

    func listSandboxes(_ arguments: MCPArguments, _ caller: Caller) async throws -> CallTool.Result {
        var entries: [Listed.Entry] = []
        for project in try await services.projects.list(userID: caller.userID) {
            var state = "none"
            if let id = project.sandboxID { state = await services.runtime.isRunning(id) ? "running" : "stopped" }
            entries.append(.init(sandbox_id: project.sandboxID, project_id: project.id, project_name: project.name, state: state))
        }
        return try MCPToolResult.success(Listed(sandboxes: entries))
    }

    struct CommandResult: Encodable, Sendable {
        let exit_code: Int
        let stdout: String
        let stderr: String
        let timed_out: Bool
        let truncated: Bool
        let duration_ms: Int
    }

    /// Each stream a model reads: its head and tail, 64 KiB in all (and one SSE event of a tool
    /// result stays well under the 1 MiB clients accept).
    static let streamBytes = 64 << 10

    /// `POST /api/sandboxes/{id}/execute`, blocking, with the route's own validation.
    func runCommand(_ arguments: MCPArguments, _ caller: Caller) async throws -> CallTool.Result {
        let record = try await ownedSandbox(arguments, caller)
        let exec = try SandboxesController.validate(SandboxesController.ExecuteBody(
            command: try arguments.requiredString("command"), timeout: try arguments.double("timeout"), blocking: true,
            session_name: nil, cwd: try arguments.string("cwd"), env: try arguments.stringMap("env")))
        let result = try await services.runtime.execute(record, exec)
        let stdout = OutputTruncation.cut(result.stdout, maxBytes: Self.streamBytes)
        let stderr = OutputTruncation.cut(result.stderr, maxBytes: Self.streamBytes)
        let cut = result.truncated || stdout.utf8.count != result.stdout.utf8.count || stderr.utf8.count != result.stderr.utf8.count
        var text = "exit_code: \(result.exit_code)" + (result.timed_out ? " (timed out)" : "")
        if !stdout.isEmpty { text += "\n--- stdout ---\n" + stdout }
        if !stderr.isEmpty { text += "\n--- stderr ---\n" + stderr }
        return try MCPToolResult.success(CommandResult(
            exit_code: result.exit_code, stdout: stdout, stderr: stderr, timed_out: result.timed_out, truncated: cut,
            duration_ms: result.duration_ms), text: text)
    }

    struct Deleted: Encodable, Sendable {
        let deleted = true
        let sandbox_id: String
    }

    /// `DELETE /api/sandboxes/{id}`: every process gone, the project and its files kept.
    func deleteSandbox(_ arguments: MCPArguments, _ caller: Caller) async throws -> CallTool.Result {
        let record = try await ownedSandbox(arguments, caller)
        try await services.runtime.delete(record)
        return try MCPToolResult.success(Deleted(sandbox_id: record.id))
    }
}
