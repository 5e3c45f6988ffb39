import Foundation

/// Runs `git` with a fixed, quiet environment: no prompts, no system or user configuration, no
/// pager, a deadline. Settings go through `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`,
/// which reach every git process this one starts (`-c` does too, but the environment is also
/// what a remote helper sees); a local push's receiving side gets its own, see `PushTarget`.
/// git runs in a process group of its own (`BoundedProcess`): past the deadline the whole group
/// is killed, ssh and remote helpers with it, and of what they print only the last
/// `outputCap` bytes are kept (a hostile remote may print without end until the deadline).
/// Blocking; call it off the event loop.
struct GitRunner: Sendable {
    let gitDir: String
    var timeout: Duration = .seconds(120)
    /// Bytes of output kept: the end, where git says what went wrong.
    static let outputCap = 64 << 10

    /// Every run: our repository is ours whoever owns the files, no hooks anywhere, and no
    /// transport at all unless a push allows its one (`protocol.<name>.allow`): no `ext::`, no
    /// submodule or redirect to another protocol.
    static let baseConfig = [
        ("safe.directory", "*"), ("core.hooksPath", "/dev/null"), ("protocol.allow", "never"),
    ]

    struct Result {
        let status: Int32
        let output: String
    }

    func run(
        _ arguments: [String], workTree: String? = nil, environment extra: [String: String] = [:],
        config: [(String, String)] = [], sshOptions: [String] = []
    ) throws -> Result {
        var prefix = ["--git-dir=\(gitDir)"]
        if let workTree { prefix.append("--work-tree=\(workTree)") }
        var environment = [
            "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": gitDir, "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_PAGER": "cat", "LC_ALL": "C",
            "GIT_PROTOCOL_FROM_USER": "0",
            // Run by a shell: every option is plain ASCII without shell syntax (see RemotePolicy).
            "GIT_SSH_COMMAND": (["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=15"] + sshOptions).joined(separator: " "),
        ]
        let settings = Self.baseConfig + config
        environment["GIT_CONFIG_COUNT"] = String(settings.count)
        for (index, (key, value)) in settings.enumerated() {
            environment["GIT_CONFIG_KEY_\(index)"] = key
            environment["GIT_CONFIG_VALUE_\(index)"] = value
        }
        let outcome = try BoundedProcess.run(
            "/usr/bin/git", prefix + arguments, environment: environment.merging(extra) { $1 }, timeout: timeout, outputCap: Self.outputCap)
        guard !outcome.timedOut else { throw DeployError("git \(arguments.first ?? "") took longer than \(timeout)") }
        return Result(status: outcome.status, output: String(decoding: outcome.output, as: UTF8.self))
    }
}
