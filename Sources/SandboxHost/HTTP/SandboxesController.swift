import Foundation
import Hummingbird
import SandboxRuntime

/// Sandboxes: `ensure-active` on a project, then get, delete and execute by sandbox id.
struct SandboxesController {
    /// What the routes use.
    struct Services: Sendable {
        let projects: any ProjectLookup
        let sandboxes: any SandboxLookup
        let runtime: any SandboxActivating & SandboxInspecting & SandboxExecuting & SandboxRemoving

        func ownedSandbox(_ context: AppRequestContext) async throws -> SandboxRecord { try await sandboxes.owned(context) }
    }

    let services: Services

    /// `/api/project/{project_id}/sandbox/…`
    var projectEndpoints: RouteCollection<AppRequestContext> {
        RouteCollection(context: AppRequestContext.self)
            .post("{project_id}/sandbox/ensure-active", use: ensureActive)
    }

    /// `/api/sandboxes/…`
    var endpoints: RouteCollection<AppRequestContext> {
        RouteCollection(context: AppRequestContext.self)
            .get("{sandbox_id}", use: get)
            .delete("{sandbox_id}", use: delete)
            .post("{sandbox_id}/execute", use: execute)
    }

    struct Activated: Encodable, Sendable {
        let status = "success"
        let sandbox_id: String
        let state = "running"
        let message = "Sandbox is active"
    }

    struct SandboxBody: Encodable, Sendable {
        let sandbox_id: String
        let project_id: String
        let state: SandboxRecord.State
        let image: String
        let limits: SandboxLimits
        let created_at: String
        let last_active_at: String
    }

    struct Deleted: Encodable, Sendable {
        let status = "success"
        let deleted = true
        let sandbox_id: String
    }

    @Sendable func ensureActive(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<Activated> {
        let identity = try context.requireIdentity()
        let projectID = try context.parameters.require("project_id")
        guard let project = try await services.projects.get(id: projectID, userID: identity.userID) else {
            throw HostError.notFound("project")
        }
        let record = try await services.runtime.ensureActive(projectID: project.id, image: project.image)
        return JSONResponse(Activated(sandbox_id: record.id))
    }

    @Sendable func get(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<SandboxBody> {
        let record = try await sandbox(context)
        let running = await services.runtime.isRunning(record.id)
        return JSONResponse(SandboxBody(
            sandbox_id: record.id, project_id: record.projectID, state: running ? .running : .stopped,
            image: record.image, limits: record.limits, created_at: record.createdAt,
            last_active_at: services.runtime.lastActive(record.id) ?? record.lastActiveAt))
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<Deleted> {
        let record = try await sandbox(context)
        try await services.runtime.delete(record)
        return JSONResponse(Deleted(sandbox_id: record.id))
    }

    struct ExecuteBody: Decodable {
        let command: String
        let timeout: Double?
        let blocking: Bool?
        let session_name: String?
        let cwd: String?
        let env: [String: String]?
    }

    struct Started: Encodable, Sendable {
        let session_name: String
        let command_id: String
        let message: String
        let blocking = false
    }

    /// Blocking: the command's result. Non-blocking: started in the named session (created when
    /// missing, `default` when unnamed), answered at once.
    @Sendable func execute(_ request: Request, context: AppRequestContext) async throws -> Response {
        let record = try await sandbox(context)
        let body = try await request.decodeJSON(as: ExecuteBody.self, context: context)
        let exec = try Self.validate(body)
        if body.blocking ?? true {
            return try JSONResponse(try await services.runtime.execute(record, exec)).response(from: request, context: context)
        }
        let name = body.session_name ?? "default"
        guard SandboxRuntime.validSessionName(name) else {
            throw HostError(.unprocessable, "field 'session_name' may hold letters, digits, '-', '_' and '.', up to 64")
        }
        let commandID = try await services.runtime.startInSession(record, exec, sessionName: name)
        return try JSONResponse(Started(
            session_name: name, command_id: commandID, message: "Command started in session '\(name)'"
        )).response(from: request, context: context)
    }

    static func validate(_ body: ExecuteBody) throws -> ExecRequest {
        guard !body.command.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw HostError(.unprocessable, "field 'command' must not be empty")
        }
        guard !body.command.utf8.contains(0) else { throw HostError(.unprocessable, "field 'command' contains a NUL byte") }
        var exec = ExecRequest(command: body.command)
        if let timeout = body.timeout {
            guard timeout > 0, timeout <= 86_400, timeout.isFinite else {
                throw HostError(.unprocessable, "field 'timeout' must be between 0 and 86400 seconds")
            }
            exec.timeoutSeconds = timeout
        }
        if let cwd = body.cwd {
            guard cwd.hasPrefix("/"), !cwd.utf8.contains(0), cwd.utf8.count < 4096 else {
                throw HostError(.unprocessable, "field 'cwd' must be an absolute path inside the sandbox")
            }
            exec.cwd = cwd
        }
        for (key, value) in body.env ?? [:] {
            let valid = key.first.map { $0 == "_" || ($0.isASCII && $0.isLetter) } == true
                && key.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
            guard valid, key.utf8.count <= 256 else { throw HostError(.unprocessable, "env name '\(key.prefix(64))' is not a valid variable name") }
            guard !value.utf8.contains(0) else { throw HostError(.unprocessable, "env '\(key)' contains a NUL byte") }
        }
        exec.environment = body.env ?? [:]
        return exec
    }

    private func sandbox(_ context: AppRequestContext) async throws -> SandboxRecord {
        try await services.ownedSandbox(context)
    }
}
