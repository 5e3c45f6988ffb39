import Logging
import MCP
import Synchronization

/// The open MCP sessions: made on `initialize`, found by `Mcp-Session-Id` for their owner only
/// (another key's request, or a missing or closed session, gets nil: 404, indistinguishable),
/// ended by `DELETE /mcp`, after `idleTimeout` without a request, or when full.
///
/// Bounded: at most `maxSessions`, every key together. A new session beyond it replaces the
/// caller's own least recently used session with nothing in flight (a client that leaks
/// sessions recycles its own, never another user's); when the caller has none, it is refused
/// (429). Idle sessions are swept whenever the registry is used; memory is bounded by the count
/// anyway. Each session carries at most `byteBudget` (see `MCPSession`).
final class MCPSessions: Sendable {
    let maxSessions: Int
    let idleTimeout: Duration
    let byteBudget: Int
    let toolbox: MCPToolbox
    let logger: Logger

    private struct State {
        var sessions: [String: MCPSession] = [:]
        /// Admitted, still being made (counted against the limit).
        var opening = 0
    }

    private let state = Mutex(State())

    /// `byteBudget`: 16 MiB by default; with the default 64 sessions, at most 1 GiB kept for resumption.
    init(toolbox: MCPToolbox, maxSessions: Int, idleTimeout: Duration, byteBudget: Int, logger: Logger) {
        self.toolbox = toolbox
        self.maxSessions = max(1, maxSessions)
        self.idleTimeout = idleTimeout
        self.byteBudget = byteBudget
        self.logger = logger
    }

    var count: Int { state.withLock { $0.sessions.count } }

    /// A new session for `userID`, its server started, begun for its `initialize` request
    /// (`bytes` long): the caller must `end` it.
    func open(userID: String, bytes: Int) async throws -> MCPSession {
        let (victims, admitted) = state.withLock { state -> ([MCPSession], Bool) in
            var victims = Self.sweep(&state, idleSince: ContinuousClock.now - idleTimeout)
            if state.sessions.count + state.opening >= maxSessions {
                let own = state.sessions.values.filter { $0.userID == userID && !$0.isBusy }.min { $0.lastUsed < $1.lastUsed }
                guard let own else { return (victims, false) }
                state.sessions[own.id] = nil
                victims.append(own)
            }
            state.opening += 1
            return (victims, true)
        }
        for victim in victims { await victim.close() }
        guard admitted else {
            throw HostError(
                .rateLimited, "too many MCP sessions are open (\(maxSessions)); end one with DELETE /mcp or retry later",
                retryAfterSeconds: 30)
        }
        let session: MCPSession
        do {
            session = try await make(userID: userID)
        } catch {
            state.withLock { $0.opening -= 1 }
            throw HostError.internalError("cannot start an MCP session", cause: error)
        }
        session.begin(bytes: bytes)
        state.withLock {
            $0.opening -= 1
            $0.sessions[session.id] = session
        }
        return session
    }

    /// The session `id` if `userID` opened it, begun for a request of `bytes` (the caller must
    /// `end` it); nil otherwise.
    func find(id: String, userID: String, bytes: Int) async -> MCPSession? {
        let (found, victims) = state.withLock { state -> (MCPSession?, [MCPSession]) in
            let victims = Self.sweep(&state, idleSince: ContinuousClock.now - idleTimeout)
            guard let session = state.sessions[id], session.userID == userID, !session.isSpent else { return (nil, victims) }
            // Begun under the registry's lock: the sweep never takes a session being used.
            session.begin(bytes: bytes)
            return (session, victims)
        }
        for victim in victims { await victim.close() }
        return found
    }

    /// Ends the session and forgets it (`DELETE /mcp`, or its budget spent).
    func close(_ session: MCPSession) async {
        state.withLock { state in
            if state.sessions[session.id] === session { state.sessions[session.id] = nil }
        }
        await session.close()
    }

    /// Removes the sessions idle since `deadline`; answers them, to close outside the lock.
    private static func sweep(_ state: inout State, idleSince deadline: ContinuousClock.Instant) -> [MCPSession] {
        let idle = state.sessions.values.filter { $0.idle(since: deadline) }
        for session in idle { state.sessions[session.id] = nil }
        return idle
    }

    private func make(userID: String) async throws -> MCPSession {
        let id = Identifier.randomHex(bytes: 16)
        // The SDK's checks but the Origin one: every request carries the caller's API key in a
        // header no browser adds by itself, so a rebound DNS name gains a page nothing.
        let transport = StatefulHTTPServerTransport(
            sessionIDGenerator: MCPSessionID(id: id),
            validationPipeline: StandardValidationPipeline(validators: [
                AcceptHeaderValidator(mode: .sseRequired), ContentTypeValidator(), ProtocolVersionValidator(), SessionValidator(),
            ]))
        let server = Server(
            name: "sandbox-host", version: "1.0.0",
            instructions: "Sandboxes are isolated Linux machines with a persistent /workspace. Start with create_sandbox "
                + "(or list_sandboxes), then run_command and the file tools with its sandbox_id; start_dev_server and "
                + "get_preview_url open a web app in a browser.",
            capabilities: .init(tools: .init(listChanged: false)))
        let toolbox = self.toolbox
        await server.withMethodHandler(ListTools.self) { _ in ListTools.Result(tools: MCPToolCatalog.tools) }
        await server.withMethodHandler(CallTool.self) { parameters in
            let authority = Server.currentHandlerContext?.httpContext?.header("Host")
            return await toolbox.call(parameters.name, parameters.arguments, caller: .init(userID: userID, authority: authority))
        }
        try await server.start(transport: transport)
        return MCPSession(id: id, userID: userID, transport: transport, server: server, byteBudget: byteBudget)
    }
}
