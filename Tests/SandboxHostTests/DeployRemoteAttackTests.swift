import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost

/// Issue 14, item 1: a tenant must not run code on the host through a deployment's push. The
/// attack: a first deployment publishes a bare-repository layout whose config points
/// `core.hooksPath` at a directory of the workspace (host paths are visible inside the sandbox);
/// a second pushes to `file://<data dir>/deploy/<project>/current`, so git's receiving side runs
/// that repository's `pre-receive` as root on the host.
@Suite(.enabled(if: runningAsRoot, "deployments build in a sandbox, which needs root, as in CI"))
struct DeployRemoteAttackTests {
    static let hooks = ["pre-receive", "update", "post-receive", "post-update", "reference-transaction", "push-to-checkout", "proc-receive"]

    /// A hook script that leaves `canary` behind if it ever runs.
    static func hook(_ canary: String) -> String { "#!/bin/sh\necho \"ran as $(id -u)\" >> \(canary)\nexit 0\n" }

    static func post(_ client: any TestClientProtocol, _ key: String, _ project: String, _ body: [String: Any]) async throws -> (HTTPResponse.Status, [String: Any]) {
        let data = try JSONSerialization.data(withJSONObject: body)
        return try await client.execute(uri: "/api/project/\(project)/deploy/git", method: .post, headers: .bearer(key), body: ByteBuffer(data: data)) {
            ($0.status, $0.json)
        }
    }

    @Test(arguments: [[], ["file:///"], ["/"]])
    func aPushIntoTheDataDirectoryIsRefusedAndRunsNoHook(allowList: [String]) async throws {
        let scratch = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let canary = scratch + "/canary"
        let host = try TestHost.unthrottled { $0.deployAllowedRemotes = allowList }
        defer { host.remove() }
        try await host.test { client in
            let (project, sandbox) = try await SandboxClient(client: client, key: host.adminKey).create(name: "attacker")
            let files = FileClient(client: client, key: host.adminKey, sandbox: sandbox)
            let workspace = try await files.workspace(host)
            for name in Self.hooks { #expect(try await files.put("hooks/\(name)", Self.hook(canary)) == .ok) }
            #expect(try await files.put("out/HEAD", "ref: refs/heads/main\n") == .ok)
            let config = "[core]\n\trepositoryformatversion = 0\n\tbare = true\n\thooksPath = \(workspace)/hooks\n"
            #expect(try await files.put("out/config", config) == .ok)
            let layout = try await Self.post(client, host.adminKey, project, [
                "build_command": "mkdir -p out/objects/info out/objects/pack out/refs/heads out/refs/tags && chmod 755 hooks/*",
                "output_dir": "out",
            ])
            #expect(layout.0 == .ok && layout.1["status"] as? String == "deployed", "\(layout)")
            let site = host.configuration.dataDir + "/deploy/\(project)"
            for remote in ["file://\(site)/current", "\(site)/current", "\(site)/sites/\(layout.1["deployment_id"] as? String ?? "")",
                           "file://\(site)/current/", "\(host.configuration.dataDir)/deploy/\(project)/repo.git"] {
                let (status, body) = try await Self.post(client, host.adminKey, project, ["remote_url": remote])
                #expect(status == .badRequest, "\(remote): \(status) \(body)")
                #expect(body["code"] as? String == "VALIDATION_ERROR", "\(remote): \(body)")
            }
            let live = try await client.execute(uri: "/api/project/\(project)/deployment/live-status", method: .get, headers: .bearer(host.adminKey)) { $0.json }
            #expect(live["deployment_id"] as? String == layout.1["deployment_id"] as? String, "no deployment after the refused ones")
        }
        #expect(!FileManager.default.fileExists(atPath: canary), "a hook ran on the host: \((try? String(contentsOfFile: canary, encoding: .utf8)) ?? "")")
    }

    /// An operator-listed local repository is pushed to, but neither its hooks directory nor a
    /// `core.hooksPath` in its own config runs anything, nor does `updateInstead` check out
    /// into a work tree its config names.
    @Test func anAllowListedLocalRepositoryRunsNoneOfItsHooks() async throws {
        let scratch = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let canary = scratch + "/canary"
        // One repository with hooks in its own hooks directory, one whose config points elsewhere
        // and asks for a checkout on push into a directory of its choosing.
        try DeployTests.git(["init", "--quiet", "--bare", scratch + "/repos/own-hooks.git"])
        try DeployTests.git(["init", "--quiet", "--bare", scratch + "/repos/hooks-path.git"])
        try FileManager.default.createDirectory(atPath: scratch + "/hooks", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: scratch + "/checkout", withIntermediateDirectories: true)
        for name in Self.hooks {
            for file in [scratch + "/repos/own-hooks.git/hooks/\(name)", scratch + "/hooks/\(name)"] {
                try Self.hook(canary).write(toFile: file, atomically: true, encoding: .utf8)
                chmod(file, 0o755)
            }
        }
        let configPath = scratch + "/repos/hooks-path.git/config"
        try DeployTests.git(["config", "--file", configPath, "core.hooksPath", scratch + "/hooks"], in: scratch)
        try DeployTests.git(["config", "--file", configPath, "core.bare", "false"], in: scratch)
        try DeployTests.git(["config", "--file", configPath, "core.worktree", scratch + "/checkout"], in: scratch)
        try DeployTests.git(["config", "--file", configPath, "receive.denyCurrentBranch", "updateInstead"], in: scratch)
        let host = try TestHost.unthrottled { $0.deployAllowedRemotes = [scratch + "/repos/"] }
        defer { host.remove() }
        try await host.test { client in
            let (project, sandbox) = try await SandboxClient(client: client, key: host.adminKey).create(name: "local")
            _ = try await FileClient(client: client, key: host.adminKey, sandbox: sandbox).put("index.html", "<h1>hi</h1>\n")
            for (remote, bare) in [("file://\(scratch)/repos/own-hooks.git", true), ("\(scratch)/repos/hooks-path.git", false)] {
                let (status, body) = try await Self.post(client, host.adminKey, project, ["remote_url": remote])
                #expect(status == .ok, "\(remote): \(body)")
                guard bare else {
                    // updateInstead was overridden: the push is refused (the branch is checked out), nothing written.
                    #expect(body["status"] as? String == "failed", "\(remote): \(body)")
                    continue
                }
                #expect(body["status"] as? String == "deployed", "\(remote): \(body)")
                let pushed = try DeployTests.git(["--git-dir", String(remote.dropFirst(7)), "rev-parse", "refs/heads/main"])
                #expect(pushed.trimmingCharacters(in: .whitespacesAndNewlines) == body["commit"] as? String)
            }
        }
        #expect(!FileManager.default.fileExists(atPath: canary), "a hook ran on the host: \((try? String(contentsOfFile: canary, encoding: .utf8)) ?? "")")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: scratch + "/checkout")) == [], "a push checked files out")
    }
}
