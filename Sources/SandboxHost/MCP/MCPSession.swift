import Foundation
import MCP
import Synchronization

/// One MCP session (`Mcp-Session-Id`): the SDK's streamable HTTP transport and the server on
/// it, the API key's user that opened it (only that user reaches it), and what bounds it: when
/// it was last used (for the idle timeout), the requests in flight (a busy session is never
/// evicted), and the bytes it has carried.
///
/// Why the bytes: the SDK's transport keeps every message it sent, for `Last-Event-ID`
/// resumption, until the session ends. A session that has carried `byteBudget` is closed once
/// nothing is in flight; its client's next request gets 404 and, per the spec, it starts a new
/// session. That bounds what one session can pin, and so what all of them can.
final class MCPSession: Sendable {
    let id: String
    let userID: String
    let transport: StatefulHTTPServerTransport
    let server: Server
    let byteBudget: Int

    private struct State {
        var lastUsed: ContinuousClock.Instant
        var inFlight = 0
        var bytes = 0
        /// Its budget is spent: no request may begin, it is being closed.
        var spent = false
    }

    private let state: Mutex<State>

    init(id: String, userID: String, transport: StatefulHTTPServerTransport, server: Server, byteBudget: Int) {
        self.id = id
        self.userID = userID
        self.transport = transport
        self.server = server
        self.byteBudget = byteBudget
        state = Mutex(State(lastUsed: .now))
    }

    /// A request begins: the session is in use until `end`.
    func begin(bytes: Int) {
        state.withLock {
            $0.inFlight += 1
            $0.bytes += bytes
            $0.lastUsed = .now
        }
    }

    /// A request's response is done (or dropped). Answers whether the session has carried its
    /// budget and nothing else is in flight: time to close it.
    func end() -> Bool {
        state.withLock {
            $0.inFlight -= 1
            $0.lastUsed = .now
            if $0.inFlight == 0 && $0.bytes >= byteBudget { $0.spent = true }
            return $0.spent
        }
    }

    /// Bytes sent to the client (stored by the transport too).
    func sent(_ count: Int) {
        state.withLock { $0.bytes += count }
    }

    /// Nothing in flight, and nothing asked since `deadline`.
    func idle(since deadline: ContinuousClock.Instant) -> Bool {
        state.withLock { $0.inFlight == 0 && $0.lastUsed < deadline }
    }

    var isBusy: Bool { state.withLock { $0.inFlight > 0 } }
    /// Its budget is spent and it is being closed: it takes no more requests.
    var isSpent: Bool { state.withLock { $0.spent } }
    var lastUsed: ContinuousClock.Instant { state.withLock { $0.lastUsed } }

    /// Ends the session: its streams close, later requests with its id get 404.
    func close() async {
        await server.stop()
    }
}
