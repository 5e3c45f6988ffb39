import SandboxRuntime

/// Starts processes on pseudo-terminals inside sandboxes (the runtime).
protocol TerminalStarting: Sendable {
    func openTerminal(_ record: SandboxRecord, _ request: TerminalRequest, output: @escaping Terminal.Output) async throws -> Terminal
}

extension SandboxRuntime: TerminalStarting {}
