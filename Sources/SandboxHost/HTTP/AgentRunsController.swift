import AgentLoop
import Foundation
import Hummingbird
import SandboxRuntime

/// Agent runs: start on a thread (or `initiate` project, thread, sandbox and run at once),
/// follow as Server-Sent Events, stop, and look up.
struct AgentRunsController {
    /// What the routes use.
    struct Services: Sendable {
        let agents: any AgentRunning
        let agentRuns: any AgentRunLookup
        /// `initiate` makes a project, its workspace, its sandbox and a thread.
        let projects: any ProjectCatalog
        let workspaces: any WorkspaceProvisioning
        let runtime: any SandboxActivating
        let threads: any ThreadCatalog
        /// How often a stream with nothing to say sends a heartbeat.
        let heartbeat: Duration
    }

    let services: Services
    var agents: any AgentRunning { services.agents }
    var heartbeat: Duration { services.heartbeat }

    /// `/api/thread/{thread_id}/…`
    var threadEndpoints: RouteCollection<AppRequestContext> {
        RouteCollection(context: AppRequestContext.self)
            .post("{thread_id}/agent/start", use: start)
            .get("{thread_id}/agent-runs", use: list)
    }

    /// `/api/agent/…`
    var agentEndpoints: RouteCollection<AppRequestContext> {
        RouteCollection(context: AppRequestContext.self)
            .post("initiate", use: initiate)
    }

    /// `/api/agent-run/{agent_run_id}…`
    var runEndpoints: RouteCollection<AppRequestContext> {
        RouteCollection(context: AppRequestContext.self)
            .get("{agent_run_id}", use: get)
            .get("{agent_run_id}/status", use: status)
            .get("{agent_run_id}/stream", use: stream)
            .post("{agent_run_id}/stop", use: stop)
    }

    struct StartBody: Decodable {
        let message: String?
        let model_name: String?
        let max_steps: Int?
    }

    struct Started: Encodable, Sendable {
        let agent_run_id: String
        let status: String
    }

    struct InitiateBody: Decodable {
        let prompt: String
        let model_name: String?
        let project_name: String?
        let max_steps: Int?
    }

    struct Initiated: Encodable, Sendable {
        let project_id: String
        let thread_id: String
        let agent_run_id: String
        let sandbox_id: String
    }

    struct RunList: Encodable, Sendable { let agent_runs: [AgentRun] }

    struct StatusBody: Encodable, Sendable {
        let agent_run_id: String
        let status: AgentRun.Status
        let timestamp: Int64
    }

    struct Stopping: Encodable, Sendable {
        let message: String
        let agent_run_id: String
        let status: String
    }

    static func validate(message: String?, field: String, maxSteps: Int?) throws -> (String?, Int) {
        if let message {
            guard !message.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw HostError(.unprocessable, "field '\(field)' must not be empty")
            }
            guard message.utf8.count <= 1 << 20 else { throw HostError(.payloadTooLarge, "field '\(field)' is over 1 MiB") }
        }
        let steps = maxSteps ?? 50
        guard (1...500).contains(steps) else { throw HostError(.unprocessable, "field 'max_steps' must be from 1 to 500") }
        return (message, steps)
    }

    static func validModelName(_ name: String?) throws -> String? {
        guard let name else { return nil }
        guard !name.isEmpty, name.utf8.count <= 200 else { throw HostError(.unprocessable, "field 'model_name' must be 1 to 200 bytes") }
        return name
    }

    @Sendable func start(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<Started> {
        let identity = try context.requireIdentity()
        let threadID = try context.parameters.require("thread_id")
        let body = try await request.decodeJSON(as: StartBody.self, context: context)
        let (message, steps) = try Self.validate(message: body.message, field: "message", maxSteps: body.max_steps)
        let run = try await agents.start(
            threadID: threadID, userID: identity.userID, message: message, model: try Self.validModelName(body.model_name), maxSteps: steps)
        return JSONResponse(Started(agent_run_id: run.id, status: run.status.rawValue))
    }

    /// Creates a project (named by `project_name`, else from the prompt), a thread, the sandbox,
    /// and a run of the prompt. A failure after the project exists leaves the project (the
    /// caller can delete it): it holds nothing the caller did not ask for.
    @Sendable func initiate(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<Initiated> {
        let identity = try context.requireIdentity()
        let body = try await request.decodeJSON(as: InitiateBody.self, context: context)
        let (prompt, steps) = try Self.validate(message: body.prompt, field: "prompt", maxSteps: body.max_steps)
        let model = try Self.validModelName(body.model_name)
        // Refuse before creating anything when no run could start.
        try await agents.checkReady(model: model)
        let name = try body.project_name.map { try Validation.text($0, field: "project_name", maxLength: 200) }
            ?? Self.projectName(from: prompt ?? "")
        let project = try await services.projects.create(userID: identity.userID, name: name, description: nil, image: "default")
        try await services.workspaces.create(projectID: project.id)
        let record = try await services.runtime.ensureActive(projectID: project.id, image: project.image)
        guard let thread = try await services.threads.create(projectID: project.id, userID: identity.userID) else {
            throw HostError.notFound("project")
        }
        let run = try await agents.start(threadID: thread.id, userID: identity.userID, message: prompt, model: model, maxSteps: steps)
        return JSONResponse(
            Initiated(project_id: project.id, thread_id: thread.id, agent_run_id: run.id, sandbox_id: record.id), status: .created)
    }

    /// The prompt's first words, on one line, as a project name.
    static func projectName(from prompt: String) -> String {
        let words = prompt.split(whereSeparator: { $0.isWhitespace }).prefix(6).joined(separator: " ")
        let name = words.filter { !$0.isNewline && $0.unicodeScalars.allSatisfy { !CharacterSet.controlCharacters.contains($0) } }
        return name.isEmpty ? "agent project" : String(name.prefix(60))
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<RunList> {
        let identity = try context.requireIdentity()
        let threadID = try context.parameters.require("thread_id")
        guard try await services.threads.get(id: threadID, userID: identity.userID) != nil else { throw HostError.notFound("thread") }
        return JSONResponse(RunList(agent_runs: try await services.agentRuns.list(threadID: threadID)))
    }

    @Sendable func get(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<AgentRun> {
        JSONResponse(try await ownedRun(context))
    }

    @Sendable func status(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<StatusBody> {
        let run = try await ownedRun(context)
        return JSONResponse(StatusBody(agent_run_id: run.id, status: run.status, timestamp: Timestamp.milliseconds()))
    }

    @Sendable func stop(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<Stopping> {
        let run = try await ownedRun(context)
        guard run.status == .running, await agents.stop(runID: run.id) else {
            return JSONResponse(Stopping(message: "The run already ended", agent_run_id: run.id, status: run.status.rawValue))
        }
        return JSONResponse(Stopping(message: "Stop signal sent", agent_run_id: run.id, status: "stopping"))
    }

    /// Replays the run after the resume point and follows it live until its final status; a
    /// finished run replays and ends at once. A `LiveStream` over an `AgentRunFeed`: the events
    /// after the last one it sent, from the hub's shared tail when it holds them, else from the
    /// run's rows in SQLite, in batches; the hub wakes it after each event stored.
    @Sendable func stream(_ request: Request, context: AppRequestContext) async throws -> Response {
        let run = try await ownedRun(context)
        let after = try ServerSentEvents.resumePoint(request)
        let (hub, store, heartbeat) = (agents.hub, services.agentRuns, self.heartbeat)
        return Response(status: .ok, headers: ServerSentEvents.headers, body: ResponseBody { writer in
            let signal = WakeSignal()
            // Watching before the first read: nothing stored after it goes unnoticed. A run not
            // live here (finished, or left by a previous host) is all in the database.
            let watch = hub.watch(run.id, wake: signal.notify)
            defer { if let watch { hub.unwatch(run.id, id: watch) } }
            let feed = AgentRunFeed(runID: run.id, hub: hub) { after, limit, budget in
                try await store.events(runID: run.id, after: after, limit: limit, budget: budget)
            }
            var cursor = after
            // The hub closes the run after publishing its final event: the read after that ends it.
            try await LiveStream(signal: signal, heartbeat: heartbeat).run(&writer, live: { watch != nil && hub.isOpen(run.id) }) { writer in
                while true {
                    let (frames, more) = try await feed.next(after: cursor)
                    if let last = frames.last {
                        // One write per batch (at most `feed.limit` events / `feed.budget` bytes).
                        try await writer.write(ServerSentEvents.joined(frames.map(\.bytes)))
                        cursor = last.sequence
                    }
                    if !more { return true }
                }
            }
            try await writer.finish(nil)
        })
    }

    private func ownedRun(_ context: AppRequestContext) async throws -> AgentRun {
        let identity = try context.requireIdentity()
        let id = try context.parameters.require("agent_run_id")
        guard let run = try await services.agentRuns.get(id: id, userID: identity.userID) else { throw HostError.notFound("agent run") }
        return run
    }
}
