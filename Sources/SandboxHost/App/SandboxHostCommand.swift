import ArgumentParser

/// The `sandbox-host` command line: the server and its administration.
public struct SandboxHostCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "sandbox-host",
        abstract: "A self-hosted host of isolated sandboxes for coding agents.",
        subcommands: [ServeCommand.self, DoctorCommand.self, UsersCommand.self, KeysCommand.self, ImagesCommand.self, AgentCommand.self, ShellCommand.self],
        defaultSubcommand: ServeCommand.self)

    public init() {}
}
