import FileAPI
import Hummingbird
import NIOPosix
import SandboxRuntime

/// File watching (`GET /api/sandboxes/{id}/files/watch?path=&recursive=true&all=false`): Server-
/// Sent Events of the changes under `path`, made by anyone (commands in the sandbox, the API,
/// the agent), whether or not the sandbox runs: the project's workspace is watched on the host
/// (`FileWatchRegistry`), where both kinds of write land on the same inodes.
///
/// The stream starts with a `ping` once the watch is in place (a client may change files from
/// then on), then one `message` event per change, ids in sequence. Changes are not kept: a
/// client that reconnects with `Last-Event-ID: N` gets ids after N, starting with an `overflow`
/// (`reason: resumed`) that tells it to list again.
struct WatchController {
    struct Services: Sendable {
        let sandboxes: any SandboxLookup
        let workspaces: any WorkspaceLocating
        let watches: FileWatchRegistry
        /// How often a quiet stream sends a `ping`.
        let heartbeat: Duration
    }

    let services: Services

    /// `/api/sandboxes/…`
    var endpoints: RouteCollection<AppRequestContext> {
        RouteCollection(context: AppRequestContext.self)
            .get("{sandbox_id}/files/watch", use: watch)
    }

    @Sendable func watch(_ request: Request, context: AppRequestContext) async throws -> Response {
        let record = try await services.sandboxes.owned(context)
        let query = request.queryParameters
        let base = try WorkspacePath(query["path"] ?? "")
        let recursive = try query.flag("recursive", default: true)
        let subscription = WatchSubscription(base: base, recursive: recursive, all: try query.flag("all"))
        let resumed = try ServerSentEvents.resumePoint(request)
        let (workspaces, projectID) = (services.workspaces, record.projectID)
        let workspace = workspaces.path(projectID: projectID)
        // A restart may have left the volume unmounted, as for the other file routes.
        try await NIOThreadPool.singleton.runIfActive { try workspaces.ensureVolume(projectID: projectID) }
        let registry = services.watches
        let watcher = try await registry.watch(projectID: projectID, workspace: workspace, subscription)
        let lease = WatchLease(registry: registry, projectID: projectID, watcher: watcher, subscription: subscription)
        if resumed > 0 { subscription.overflow(.resumed) }
        let heartbeat = services.heartbeat
        return Response(status: .ok, headers: ServerSentEvents.headers, body: ResponseBody { writer in
            let subscription = lease.subscription
            var id = resumed
            try await writer.write(ServerSentEvents.ping)
            try await LiveStream(signal: subscription.signal, heartbeat: heartbeat).run(&writer, live: { !subscription.isEnded }) { writer in
                let events = subscription.take()
                guard !events.isEmpty else { return true }
                let frames = events.map { event -> ByteBuffer in
                    id += 1
                    return ServerSentEvents.event(id: id, payload: event.payload)
                }
                try await writer.write(ServerSentEvents.joined(frames))
                return true
            }
            try await writer.finish(nil)
        })
    }
}
