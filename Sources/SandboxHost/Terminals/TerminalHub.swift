import SandboxRuntime
import Synchronization

/// The output side of one terminal: its scrollback, and every client attached to it.
///
/// Output arrives on the poller's thread (`receive`): it goes into the scrollback and into each
/// client's queue, never waiting. When any client's queue passes `highWater`, the terminal's
/// output is paused (the process blocks on its full terminal) until every queue is back under
/// `lowWater`: a slow client slows the terminal, as a slow terminal emulator would; a client
/// that stops reading is dropped by its connection after the stall timeout
/// (`TerminalWebSocket`), which resumes the others. With no client attached, output only
/// feeds the scrollback. Thread-safe.
final class TerminalHub: Sendable {
    static let highWater = 256 << 10
    static let lowWater = 64 << 10
    /// Clients attached to one terminal at most.
    static let maxClients = 16

    private let state = Mutex(State())

    private struct State {
        var scrollback = TerminalScrollback()
        var clients: [Int: TerminalClient] = [:]
        var nextClient = 1
        var terminal: Terminal?
        var paused = false
        var exitCode: Int?
    }

    /// The terminal whose output this is (output may arrive before it is set).
    func start(_ terminal: Terminal) {
        let pause = state.withLock { state in
            state.terminal = terminal
            return state.paused
        }
        if pause { terminal.pauseOutput() }
    }

    var terminal: Terminal? { state.withLock { $0.terminal } }
    var exitCode: Int? { state.withLock { $0.exitCode } }
    var clientCount: Int { state.withLock { $0.clients.count } }

    /// Output of the terminal, on the poller's thread.
    func receive(_ bytes: [UInt8]) {
        let pause: Terminal? = state.withLock { state in
            state.scrollback.append(bytes)
            var over = false
            for client in state.clients.values where client.enqueue(bytes) > Self.highWater { over = true }
            guard over, !state.paused else { return nil }
            state.paused = true
            return state.terminal
        }
        pause?.pauseOutput()
    }

    /// A new client: its queue starts with the scrollback (and the exit, when the process has
    /// exited already). Nil when `maxClients` are attached.
    func attach() -> TerminalClient? {
        state.withLock { state in
            guard state.clients.count < Self.maxClients else { return nil }
            let client = TerminalClient(id: state.nextClient)
            state.nextClient += 1
            client.enqueue(state.scrollback.contents)
            if let code = state.exitCode { client.finish(exitCode: code) }
            state.clients[client.id] = client
            return client
        }
    }

    /// The client is gone (closed, or dropped for not reading).
    func detach(_ client: TerminalClient) {
        client.end()
        _ = state.withLock { $0.clients.removeValue(forKey: client.id) }
        resumeIfDrained()
    }

    /// A client's writer took a batch: resume the output once every queue is short again.
    func resumeIfDrained() {
        let resume: Terminal? = state.withLock { state in
            guard state.paused, state.clients.values.allSatisfy({ $0.pending < Self.lowWater }) else { return nil }
            state.paused = false
            return state.terminal
        }
        resume?.resumeOutput()
    }

    /// The process exited (its output all read): every client gets the exit after its queue.
    func finish(exitCode: Int) {
        let clients = state.withLock { state in
            state.exitCode = exitCode
            state.paused = false
            return Array(state.clients.values)
        }
        for client in clients { client.finish(exitCode: exitCode) }
    }
}
