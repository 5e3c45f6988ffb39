/// A remote that passed `RemotePolicy.check`, and how git must be told to reach it so that it
/// reaches what was checked: the one transport allowed, the addresses pinned, and for a local
/// repository a receiving side that runs none of that repository's hooks or commands.
public struct PushTarget: Sendable {
    public let remote: RemoteURL
    /// What `git push` is given: the URL, a host pinned to a checked address (git://), or the
    /// canonical path of a local repository.
    let destination: String
    /// Settings for this push on top of `GitRunner`'s own (`protocol.<name>.allow`, pins).
    let config: [(String, String)]
    /// For a local repository, the receiving command with our settings on its own command line:
    /// git clears `GIT_CONFIG_*` for a local transport, so nothing in the environment reaches it.
    let receivePack: String?
    /// Extra `ssh` options (the checked address as `HostName`, the name as `HostKeyAlias`).
    let sshOptions: [String]

    /// The receiving side of a local push: no hooks, no checkout into a work tree the receiving
    /// repository names, no `gc`, no alternate-refs command; all of it set on the command line,
    /// which wins over the repository's own config.
    static let localReceivePack = [
        "git", "-c", "core.hooksPath=/dev/null", "-c", "receive.denyCurrentBranch=refuse",
        "-c", "receive.denyDeleteCurrent=refuse", "-c", "receive.autogc=false", "-c", "gc.auto=0",
        "-c", "core.alternateRefsCommand=true", "-c", "core.fsmonitor=false", "receive-pack",
    ].joined(separator: " ")
}
