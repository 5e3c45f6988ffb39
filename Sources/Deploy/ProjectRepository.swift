import Foundation

/// The project's git repository on the host (outside the sandbox): a bare repository whose work
/// tree is the workspace, so the workspace's own `.gitignore` applies, and the heavy directories
/// are always excluded. Hooks never run (`core.hooksPath=/dev/null`, here and on a local remote's
/// receiving side); nothing in the workspace can configure git, since the repository lives elsewhere.
public struct ProjectRepository: Sendable {
    public let gitDir: String
    let git: GitRunner

    /// Always left out, whatever the project's `.gitignore` says (the contract's heavy directories).
    public static let excluded = ["node_modules/", ".git/", ".next/", "dist/", "build/", ".cache/", "__pycache__/", ".venv/", "target/"]

    public init(gitDir: String) {
        self.gitDir = gitDir
        self.git = GitRunner(gitDir: gitDir)
    }

    /// Commits the work tree's current state on `branch` (created on first use) and answers the
    /// commit id. A commit is made even when nothing changed, so each deployment has its own.
    public func commit(workTree: String, branch: String, message: String, author: String) throws -> String {
        try prepare(branch: branch)
        try check(git.run(["add", "--all", "--", "."], workTree: workTree), "git add")
        let identity = ["GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": "\(author)@sandbox-host.local",
                        "GIT_COMMITTER_NAME": "sandbox-host", "GIT_COMMITTER_EMAIL": "deploy@sandbox-host.local"]
        try check(git.run(["commit", "--quiet", "--allow-empty", "--no-verify", "-m", message], workTree: workTree, environment: identity), "git commit")
        return try check(git.run(["rev-parse", "HEAD"]), "git rev-parse").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Pushes `branch` to a remote `RemotePolicy` checked; a refusal or an unreachable remote is a
    /// `DeployError` with git's own words, the remote's credentials redacted.
    public func push(to target: PushTarget, branch: String) throws {
        var arguments = ["push", "--porcelain"]
        if let receivePack = target.receivePack { arguments.append("--receive-pack=\(receivePack)") }
        arguments += ["--", target.destination, "HEAD:refs/heads/\(branch)"]
        let result = try git.run(arguments, config: target.config, sshOptions: target.sshOptions)
        guard result.status == 0 else {
            let remote = target.remote
            let lines = result.output.split(separator: "\n").filter { !$0.hasPrefix("To ") && !$0.isEmpty && $0 != "Done" }
            throw DeployError("push to \(remote.redacted) failed: " + RemoteURL.redact(lines.suffix(4).joined(separator: "; ")))
        }
    }

    private func prepare(branch: String) throws {
        if !FileManager.default.fileExists(atPath: gitDir + "/HEAD") {
            try FileManager.default.createDirectory(atPath: gitDir, withIntermediateDirectories: true)
            try check(git.run(["init", "--quiet", "--bare"]), "git init")
            try (Self.excluded.joined(separator: "\n") + "\n").write(toFile: gitDir + "/info/exclude", atomically: true, encoding: .utf8)
        }
        try check(git.run(["symbolic-ref", "HEAD", "refs/heads/\(branch)"]), "git symbolic-ref")
    }

    @discardableResult
    private func check(_ result: GitRunner.Result, _ what: String) throws -> String {
        guard result.status == 0 else { throw DeployError("\(what) failed: \(RemoteURL.redact(result.output.suffix(500).description))") }
        return result.output
    }

    /// A branch name git accepts (`git check-ref-format --branch`), checked without running git.
    public static func validBranch(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 200 && !name.hasPrefix("-") && !name.hasPrefix("/") && !name.hasSuffix("/")
            && !name.hasSuffix(".lock") && !name.contains("..") && !name.contains("//") && !name.contains("@{")
            && name.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value != 0x7F && !"~^:?*[\\".unicodeScalars.contains($0) }
    }
}
