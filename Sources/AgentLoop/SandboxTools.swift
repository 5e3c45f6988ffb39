/// What the agent's tools need from a sandbox; `SandboxHost` implements it on the same services
/// as its HTTP API, so a tool can do exactly what a client can and nothing more.
///
/// Paths are as the sandbox sees them (`src/a.py`, `/workspace/src/a.py`). Implementations throw
/// errors whose description a model may read: no host paths, no secrets.
public protocol SandboxTools: Sendable {
    /// Runs a command to completion or its timeout (killing everything it started), or, with a
    /// session name, starts it in that session and answers at once.
    func shell(command: String, timeoutSeconds: Double, cwd: String?, session: String?) async throws -> ShellOutcome
    /// The file's bytes, or an error when it is larger than `maxBytes`.
    func readFile(path: String, maxBytes: Int) async throws -> [UInt8]
    /// Writes the whole file atomically, creating parent directories.
    func writeFile(path: String, content: [UInt8]) async throws
    /// The tree under `path`, one entry a line (`dir/`, `file  123 B`), to `depth` levels.
    func listFiles(path: String, depth: Int) async throws -> String
    /// Matching lines as `path:line: text`, one a line.
    func searchFiles(query: String, path: String, glob: String?) async throws -> String
    func deleteFile(path: String) async throws
    /// Starts the project's dev server (a command, or one chosen from the project) and says how.
    func startDevServer(command: String?, port: Int?) async throws -> String
    /// The preview URL of a port, or why there is none.
    func previewURL(port: Int) async throws -> String
}

/// What a shell command left.
public struct ShellOutcome: Sendable, Equatable {
    public var output: String
    public var exitCode: Int?
    public var timedOut: Bool
    public var truncated: Bool

    public init(output: String, exitCode: Int?, timedOut: Bool = false, truncated: Bool = false) {
        self.output = output
        self.exitCode = exitCode
        self.timedOut = timedOut
        self.truncated = truncated
    }
}
