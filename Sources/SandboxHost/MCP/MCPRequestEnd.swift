import Synchronization

/// Ends a session's request once its response stream is done, or dropped unsent (a client gone
/// before the body ran): either way exactly once, so a session is never left busy for good.
final class MCPRequestEnd: Sendable {
    let session: MCPSession
    let sessions: MCPSessions
    private let done = Atomic(false)

    init(session: MCPSession, sessions: MCPSessions) {
        self.session = session
        self.sessions = sessions
    }

    func finish() {
        guard !done.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if session.end() {
            Task { [session, sessions] in await sessions.close(session) }
        }
    }

    deinit { finish() }
}
