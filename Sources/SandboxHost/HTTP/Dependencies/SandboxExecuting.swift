import SandboxRuntime

/// Runs commands in a sandbox: to completion, or started in a named session.
protocol SandboxExecuting: Sendable {
    /// Runs `request` and answers its exit code and (capped) output.
    func execute(_ record: SandboxRecord, _ request: ExecRequest) async throws -> ExecResult
    /// Starts `request` in the session `sessionName` (made when missing); answers the command's id.
    func startInSession(_ record: SandboxRecord, _ request: ExecRequest, sessionName: String) async throws -> String
}

extension SandboxRuntime: SandboxExecuting {}
