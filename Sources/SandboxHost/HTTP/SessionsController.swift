import Foundation
import Hummingbird
import NIOPosix
import SandboxRuntime

/// Sessions of a sandbox: the non-blocking commands run in them, their status, their output as
/// Server-Sent Events, and killing them.
struct SessionsController {
    /// What the routes use.
    struct Services: Sendable {
        let sandboxes: any SandboxLookup
        let runtime: any SessionAccess

        func ownedSandbox(_ context: AppRequestContext) async throws -> SandboxRecord { try await sandboxes.owned(context) }
    }

    let services: Services
    /// How often a stream with nothing to say sends a heartbeat.
    var heartbeat: Duration = .seconds(15)

    /// `/api/sandboxes/{sandbox_id}/sessions…`
    var endpoints: RouteCollection<AppRequestContext> {
        RouteCollection(context: AppRequestContext.self)
            .get("{sandbox_id}/sessions", use: list)
            .get("{sandbox_id}/sessions/{session_name}/status", use: status)
            .get("{sandbox_id}/sessions/{session_name}/stream", use: stream)
            .delete("{sandbox_id}/sessions/{session_name}", use: kill)
    }

    struct SessionSummary: Encodable, Sendable {
        let session_name: String
        let status: String
        let created_at: String
    }

    struct SessionList: Encodable, Sendable { let sessions: [SessionSummary] }

    struct CommandBody: Encodable, Sendable {
        let command_id: String
        let command: String
        @NullEncoded var exit_code: Int?
        let running: Bool
        let logs: String
    }

    struct StatusBody: Encodable, Sendable {
        let session_name: String
        let status: String
        let commands: [CommandBody]
        let total_commands: Int
    }

    struct Killed: Encodable, Sendable {
        let status = "success"
        let session_name: String
        let killed: Bool
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<SessionList> {
        let record = try await sandbox(context)
        let runtime = services.runtime
        // Opening a session reads its files (converting an old log): off the cooperative pool.
        let sessions = try await SessionReaders.pool.runIfActive { try runtime.listSessions(record.id) }.map {
            SessionSummary(session_name: $0.name, status: $0.isRunning ? "running" : "exited", created_at: $0.createdAt)
        }
        return JSONResponse(SessionList(sessions: sessions))
    }

    @Sendable func status(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<StatusBody> {
        let (_, session) = try await namedSession(context)
        let logs = try await SessionReaders.pool.runIfActive { SessionLogTail.read(session) }
        let commands = session.commands.map {
            CommandBody(command_id: $0.id, command: $0.command, exit_code: $0.exitCode, running: $0.running, logs: logs[$0.id] ?? "")
        }
        return JSONResponse(StatusBody(
            session_name: session.name, status: session.isRunning ? "running" : "exited", commands: commands,
            total_commands: commands.count))
    }

    /// Replays the session's log after the resume point, then follows it; ends once no command
    /// of the session runs any more. A `LiveStream` over the log: a client that reads slowly (or
    /// not at all) holds one batch, and catches up from the files however far behind it falls.
    @Sendable func stream(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (_, session) = try await namedSession(context)
        let after = try ServerSentEvents.resumePoint(request)
        let heartbeat = self.heartbeat
        return Response(status: .ok, headers: ServerSentEvents.headers, body: ResponseBody { writer in
            let follower = SessionFollower(session: session, after: after)
            defer { follower.stop() }
            try await LiveStream(signal: follower.signal, heartbeat: heartbeat).run(&writer, live: { session.isRunning }) { writer in
                var batch = SessionCursor.Batch()
                repeat {
                    batch = try await follower.read()
                    for event in batch.events where event.type != .command {
                        try await writer.write(ServerSentEvents.event(id: event.sequence, payload: event.payload()))
                    }
                } while !batch.caughtUp
                return true
            }
            try await writer.finish(nil)
        })
    }

    @Sendable func kill(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<Killed> {
        let (record, session) = try await namedSession(context)
        let killed = try await services.runtime.killSession(record, named: session.name)
        return JSONResponse(Killed(session_name: session.name, killed: killed))
    }

    private func sandbox(_ context: AppRequestContext) async throws -> SandboxRecord {
        try await services.ownedSandbox(context)
    }

    private func namedSession(_ context: AppRequestContext) async throws -> (SandboxRecord, Session) {
        let record = try await sandbox(context)
        let name = try context.parameters.require("session_name")
        let runtime = services.runtime
        guard SandboxRuntime.validSessionName(name),
              let session = try await SessionReaders.pool.runIfActive({ try runtime.session(record.id, named: name, create: false) })
        else {
            throw HostError.notFound("session")
        }
        return (record, session)
    }
}
