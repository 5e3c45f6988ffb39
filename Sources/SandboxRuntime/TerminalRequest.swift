/// A process to start on a pseudo-terminal inside a sandbox, validated.
public struct TerminalRequest: Sendable {
    /// A shell command line, run by `/bin/sh -c`.
    public var command: String
    public var cwd: String = "/workspace"
    /// Laid over the base environment (which sets `TERM=xterm-256color`).
    public var environment: [String: String] = [:]
    /// Run as the sandbox's `root` (0) or `user` (1000).
    public var uid: UInt32 = 0
    public var size = TerminalSize(columns: 80, rows: 24)

    /// What runs when the request names no command: a login bash, or sh where bash is missing.
    public static let defaultCommand = "/bin/bash -l"
    /// `defaultCommand` as handed to `/bin/sh -c`: the fallback for images without bash.
    static let defaultCommandLine = "if [ -x /bin/bash ]; then exec /bin/bash -l; else exec /bin/sh -l; fi"

    public init(command: String) { self.command = command }

    /// What `/bin/sh -c` runs for this request.
    var commandLine: String { command == Self.defaultCommand ? Self.defaultCommandLine : command }
}

/// A terminal's window: columns and rows, each 1…1000 (the API's bound; the kernel takes 16 bits).
public struct TerminalSize: Sendable, Equatable, Codable {
    public static let range = 1...1000

    public var columns: Int
    public var rows: Int

    public init(columns: Int, rows: Int) {
        self.columns = columns
        self.rows = rows
    }

    public var isValid: Bool { Self.range.contains(columns) && Self.range.contains(rows) }
}
