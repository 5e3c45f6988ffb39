import SandboxRuntime

/// A terminal of a sandbox as the API lists it: its id, what it runs, and its output's hub.
struct TerminalEntry: Sendable {
    let id: String
    let command: String
    let pid: Int32
    let createdAt: String
    let hub: TerminalHub
    let terminal: Terminal

    var running: Bool { terminal.isRunning }
}
