/// A command to run in a sandbox, validated.
public struct ExecRequest: Sendable {
    public var command: String
    public var timeoutSeconds: Double = 60
    public var cwd: String = "/workspace"
    public var environment: [String: String] = [:]
    /// Run as the sandbox's `root` (0) or `user` (1000).
    public var uid: UInt32 = 0

    public init(command: String) { self.command = command }
}

/// What a blocking command produced.
public struct ExecResult: Sendable, Encodable {
    public let output: String
    public let stdout: String
    public let stderr: String
    public let exit_code: Int
    public let success: Bool
    public let timed_out: Bool
    public let duration_ms: Int
    public let blocking: Bool
    public let truncated: Bool
}
