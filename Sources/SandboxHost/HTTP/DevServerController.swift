import FileAPI
import Foundation
import Hummingbird
import NIOPosix
import SandboxRuntime

/// Dev servers and previews: start one (a command, or one chosen from the project), follow it
/// (status, every output line, the preview URL once it listens), and the preview URLs of a port.
struct DevServerController {
    /// What the routes use.
    struct Services: Sendable {
        let sandboxes: any SandboxLookup & PreviewTokenIssuing
        let runtime: any SessionAccess & SandboxPorts
        let devServers: any DevServerLookup
        let launcher: DevServerLauncher
        /// The preview links' domain and port, and the streams' heartbeat.
        let configuration: HostConfiguration

        func ownedSandbox(_ context: AppRequestContext) async throws -> SandboxRecord { try await sandboxes.owned(context) }
    }

    let services: Services
    var heartbeat: Duration { services.configuration.heartbeat }
    /// How often a stream looks for the dev server's port while waiting for it.
    var portPoll: Duration = .milliseconds(250)

    /// `/api/sandboxes/{sandbox_id}/…`
    var endpoints: RouteCollection<AppRequestContext> {
        RouteCollection(context: AppRequestContext.self)
            .post("{sandbox_id}/dev-server/start", use: start)
            .get("{sandbox_id}/dev-server/stream", use: stream)
            .get("{sandbox_id}/preview-url", use: previewURL)
            .get("{sandbox_id}/expo-url", use: expoURL)
    }

    struct StartBody: Decodable {
        let command: String?
        let port: Int?
        let session_name: String?
    }

    struct Started: Encodable, Sendable {
        let status = "starting"
        let session_name: String
        let command: String
        let command_id: String
        @NullEncoded var port: Int?
        let detected: Bool
        let message: String
    }

    /// Starts the dev server in its session; one already running there is stopped first (a
    /// restart). Without a command, one is chosen from the project as a developer would.
    @Sendable func start(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<Started> {
        let record = try await services.ownedSandbox(context)
        let body = try await request.decodeJSON(as: StartBody.self, context: context)
        let session = body.session_name ?? DevServerLauncher.defaultSession
        guard SandboxRuntime.validSessionName(session) else {
            throw HostError(.unprocessable, "field 'session_name' may hold letters, digits, '-', '_' and '.', up to 64")
        }
        if let port = body.port, !(1...65535).contains(port) { throw HostError(.unprocessable, "field 'port' must be from 1 to 65535") }
        let launched = try await services.launcher.start(record, command: body.command, port: body.port, session: session)
        let (command, commandID, detected) = (launched.command, launched.commandID, launched.detected)
        return JSONResponse(Started(
            session_name: session, command: command, command_id: commandID, port: body.port, detected: detected,
            message: "Dev server starting in session '\(session)'" + (detected ? " (chosen from the project)" : "")))
    }

    /// Status, every output line (replayed from the session's log, then live), the preview URL
    /// once the dev server listens (and an `exp://` URL when Metro listens on 8081), heartbeats,
    /// and `done` when it exits. Every event but the heartbeat has an id in one sequence
    /// (`DevServerFeed`): `Last-Event-ID` resumes after it without a repeat or a gap.
    /// A `LiveStream` over the session's log, polling for the port until it is found.
    @Sendable func stream(_ request: Request, context: AppRequestContext) async throws -> Response {
        let record = try await services.ownedSandbox(context)
        let name = request.queryParameters["session_name"] ?? DevServerLauncher.defaultSession
        guard SandboxRuntime.validSessionName(name) else { throw HostError(.unprocessable, "query parameter 'session_name' is not a session name") }
        let after = try ServerSentEvents.resumePoint(request)
        let links = PreviewLinks(request: request, configuration: services.configuration)
        let (services, heartbeat, portPoll) = (self.services, self.heartbeat, self.portPoll)
        let runtime = services.runtime
        return Response(status: .ok, headers: ServerSentEvents.headers, body: ResponseBody { writer in
            var feed = DevServerFeed(after: after)
            try await feed.status("checking", to: &writer)
            // Opening a session reads its files: on the readers' pool, like every session read.
            guard let session = try await SessionReaders.pool.runIfActive({ try runtime.session(record.id, named: name, create: false) }) else {
                try await feed.end(status: "stopped", to: &writer)
                return try await writer.finish(nil)
            }
            let entry = await services.devServers.get(sandboxID: record.id, session: name)
            // From the log's start: lines are numbered by their place in it (`Last-Event-ID` skips).
            let follower = SessionFollower(session: session, after: 0)
            defer { follower.stop() }
            let current = entry?.commandID ?? session.commands.last?.id
            // Reads up to what is logged; the dev server's exit ends the stream.
            func catchUp(_ writer: inout any ResponseBodyWriter) async throws -> Bool {
                var batch = SessionCursor.Batch()
                repeat {
                    batch = try await follower.read()
                    for event in batch.events {
                        try await feed.take(event, to: &writer)
                        if event.type == .exit, event.command_id == current {
                            try await feed.end(status: DevServerFeed.endStatus(exitCode: event.exit_code ?? 0), to: &writer)
                            return false
                        }
                    }
                } while !batch.caughtUp
                return true
            }
            let running = session.isRunning
            guard try await catchUp(&writer) else { return try await writer.finish(nil) }
            guard running else {
                try await feed.end(status: "stopped", to: &writer)
                return try await writer.finish(nil)
            }
            try await feed.status("starting", to: &writer)
            let live = LiveStream(signal: follower.signal, heartbeat: heartbeat, pollEvery: portPoll)
            try await live.run(&writer, live: { session.isRunning }, catchUp: catchUp) { writer in
                let ports = await runtime.listeningPorts(record.id)
                guard let port = DevServerRegistry.detectedPort(entry, listening: ports) else { return true }
                let token = try await services.sandboxes.previewToken(id: record.id)
                try await feed.status("running", to: &writer)
                try await feed.send(.previewURL, [
                    "type": "preview_url", "url": links.hostURL(sandboxID: record.id, port: port, token: token),
                    "path_url": links.pathURL(sandboxID: record.id, port: port, token: token), "port": port,
                ], to: &writer)
                // Expo: Metro serves the app to Expo Go on 8081.
                if ports.contains(Self.metroPort) {
                    try await feed.send(.expoURL, ["type": "expo_url", "url": links.expoURL(sandboxID: record.id, token: token)], to: &writer)
                }
                return false
            }
            // Closed by the host (the session or its sandbox went away) without an exit.
            if !feed.finished { try await feed.end(status: "stopped", to: &writer) }
            try await writer.finish(nil)
        })
    }

    struct PreviewBody: Encodable, Sendable {
        @NullEncoded var preview_url: String?
        @NullEncoded var path_url: String?
        let port: Int
        let status: String
    }

    /// The port Expo's Metro bundler listens on.
    static let metroPort = 8081

    /// `available` only when something listens on the port inside the sandbox. Without `port`:
    /// the port of the dev server running in `session_name` (default `dev_server_web`), 409
    /// when none runs there or it listens on no port yet.
    @Sendable func previewURL(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<PreviewBody> {
        let record = try await services.ownedSandbox(context)
        let port: Int
        if let raw = request.queryParameters["port"] {
            guard let value = Int(raw), (1...65535).contains(value) else {
                throw HostError(.unprocessable, "query parameter 'port' must be from 1 to 65535")
            }
            port = value
        } else {
            port = try await devServerPort(record, session: request.queryParameters["session_name"] ?? DevServerLauncher.defaultSession)
        }
        guard await services.runtime.listeningPorts(record.id).contains(port) else {
            return JSONResponse(PreviewBody(preview_url: nil, path_url: nil, port: port, status: "dev_server_not_running"))
        }
        let links = PreviewLinks(request: request, configuration: services.configuration)
        let token = try await services.sandboxes.previewToken(id: record.id)
        return JSONResponse(PreviewBody(
            preview_url: links.hostURL(sandboxID: record.id, port: port, token: token),
            path_url: links.pathURL(sandboxID: record.id, port: port, token: token), port: port, status: "available"))
    }

    /// The port the dev server running in `session` listens on (as the stream detects it).
    private func devServerPort(_ record: SandboxRecord, session name: String) async throws -> Int {
        guard SandboxRuntime.validSessionName(name) else { throw HostError(.unprocessable, "query parameter 'session_name' is not a session name") }
        let runtime = services.runtime
        // Opening a session reads its files: on the readers' pool, like every session read.
        let running = try await SessionReaders.pool.runIfActive { try runtime.session(record.id, named: name, create: false)?.isRunning ?? false }
        guard running else {
            throw HostError(.conflict, "no dev server is running in session '\(name)': start one (POST …/dev-server/start) or pass 'port'")
        }
        let entry = await services.devServers.get(sandboxID: record.id, session: name)
        guard let port = DevServerRegistry.detectedPort(entry, listening: await runtime.listeningPorts(record.id)) else {
            throw HostError(.conflict, "the dev server in session '\(name)' listens on no port yet: try again in a moment, or pass 'port'")
        }
        return port
    }

    struct ExpoBody: Encodable, Sendable {
        @NullEncoded var expo_url: String?
        let status: String
    }

    /// An `exp://` URL for an Expo (Metro) server on 8081, through the preview host.
    @Sendable func expoURL(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<ExpoBody> {
        let record = try await services.ownedSandbox(context)
        guard await services.runtime.listeningPorts(record.id).contains(Self.metroPort) else {
            return JSONResponse(ExpoBody(expo_url: nil, status: "dev_server_not_running"))
        }
        let token = try await services.sandboxes.previewToken(id: record.id)
        let links = PreviewLinks(request: request, configuration: services.configuration)
        return JSONResponse(ExpoBody(expo_url: links.expoURL(sandboxID: record.id, token: token), status: "available"))
    }
}
