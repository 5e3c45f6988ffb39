import Foundation
import Hummingbird
import SandboxRuntime

/// Terminals of a sandbox: open one (a process on a pseudo-terminal), list them, delete one.
/// Their screens are WebSockets (`TerminalWebSocket`); the plain `GET …/ws` here answers only
/// requests that are not upgrades.
struct TerminalsController {
    /// What the routes use.
    struct Services: Sendable {
        let sandboxes: any SandboxLookup
        let runtime: any TerminalStarting
        let terminals: TerminalRegistries

        func ownedSandbox(_ context: AppRequestContext) async throws -> SandboxRecord { try await sandboxes.owned(context) }
    }

    let services: Services

    /// `/api/sandboxes/{sandbox_id}/pty…`
    var endpoints: RouteCollection<AppRequestContext> {
        RouteCollection(context: AppRequestContext.self)
            .post("{sandbox_id}/pty", use: open)
            .get("{sandbox_id}/pty", use: list)
            .delete("{sandbox_id}/pty/{pty_id}", use: delete)
            .get("{sandbox_id}/pty/{pty_id}/ws", use: notUpgraded)
    }

    struct OpenBody: Decodable {
        let command: String?
        let cols: Int?
        let rows: Int?
        let cwd: String?
        let env: [String: String]?
    }

    struct Opened: Encodable, Sendable {
        let pty_id: String
        let pid: Int32
        let cols: Int
        let rows: Int
    }

    struct Summary: Encodable, Sendable {
        let pty_id: String
        let command: String
        let pid: Int32
        let cols: Int
        let rows: Int
        let running: Bool
        let created_at: String
    }

    struct Listed: Encodable, Sendable { let ptys: [Summary] }

    struct Deleted: Encodable, Sendable {
        let status = "success"
        let pty_id: String
        let deleted = true
    }

    /// The longest command line a terminal takes (bytes).
    static let maxCommandBytes = 8192

    @Sendable func open(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<Opened> {
        let record = try await services.ownedSandbox(context)
        let body = try await request.decodeJSON(as: OpenBody.self, context: context)
        let terminalRequest = try Self.validate(body)
        let entry = try await services.terminals.registry(for: record.id).open(record, terminalRequest, runtime: services.runtime)
        let size = entry.terminal.size
        return JSONResponse(Opened(pty_id: entry.id, pid: entry.pid, cols: size.columns, rows: size.rows), status: .created)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<Listed> {
        let record = try await services.ownedSandbox(context)
        let entries = await services.terminals.existing(for: record.id)?.list() ?? []
        return JSONResponse(Listed(ptys: entries.map { entry in
            let size = entry.terminal.size
            return Summary(
                pty_id: entry.id, command: entry.command, pid: entry.pid, cols: size.columns, rows: size.rows, running: entry.running,
                created_at: entry.createdAt)
        }))
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<Deleted> {
        let record = try await services.ownedSandbox(context)
        let id = try context.parameters.require("pty_id")
        guard let registry = services.terminals.existing(for: record.id), await registry.remove(id) else {
            throw HostError.notFound("terminal")
        }
        return JSONResponse(Deleted(pty_id: id))
    }

    /// A plain GET of the WebSocket's path (upgrades never reach the router).
    @Sendable func notUpgraded(_ request: Request, context: AppRequestContext) async throws -> Response {
        let record = try await services.ownedSandbox(context)
        let id = try context.parameters.require("pty_id")
        guard await services.terminals.existing(for: record.id)?.entry(id) != nil else { throw HostError.notFound("terminal") }
        throw HostError(.validation, "this is a WebSocket: connect with Connection: Upgrade and Upgrade: websocket")
    }

    static func validate(_ body: OpenBody) throws -> TerminalRequest {
        let command = body.command ?? TerminalRequest.defaultCommand
        guard !command.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw HostError(.unprocessable, "field 'command' must not be empty (omit it for a login shell)")
        }
        guard !command.utf8.contains(0) else { throw HostError(.unprocessable, "field 'command' contains a NUL byte") }
        guard command.utf8.count <= maxCommandBytes else {
            throw HostError(.unprocessable, "field 'command' is longer than \(maxCommandBytes) bytes")
        }
        var request = TerminalRequest(command: command)
        let size = TerminalSize(columns: body.cols ?? 80, rows: body.rows ?? 24)
        guard size.isValid else {
            throw HostError(.unprocessable, "fields 'cols' and 'rows' must be between \(TerminalSize.range.lowerBound) and \(TerminalSize.range.upperBound)")
        }
        request.size = size
        if let cwd = body.cwd {
            guard cwd.hasPrefix("/"), !cwd.utf8.contains(0), cwd.utf8.count < 4096 else {
                throw HostError(.unprocessable, "field 'cwd' must be an absolute path inside the sandbox")
            }
            request.cwd = cwd
        }
        let environment = body.env ?? [:]
        guard environment.count <= 256 else { throw HostError(.unprocessable, "field 'env' has more than 256 variables") }
        for (key, value) in environment {
            let valid = key.first.map { $0 == "_" || ($0.isASCII && $0.isLetter) } == true
                && key.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
            guard valid, key.utf8.count <= 256 else { throw HostError(.unprocessable, "env name '\(key.prefix(64))' is not a valid variable name") }
            guard !value.utf8.contains(0) else { throw HostError(.unprocessable, "env '\(key)' contains a NUL byte") }
            guard value.utf8.count <= 32 << 10 else { throw HostError(.unprocessable, "env '\(key)' is longer than 32 KiB") }
        }
        request.environment = environment
        return request
    }
}
