import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost

/// Deployments through git (a bare repository and a `git daemon` on loopback) and the served site.
@Suite(.enabled(if: runningAsRoot, "deployments build in a sandbox, which needs root, as in CI"))
struct DeployTests {
    @discardableResult
    static func git(_ arguments: [String], in directory: String? = nil) throws -> String {
        let (status, data) = try Subprocess.run(
            "/usr/bin/git",
            (directory.map { ["-C", $0] } ?? []) + ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"] + arguments)
        let output = String(decoding: data, as: UTF8.self)
        guard status == 0 else { throw HostProcessError("git \(arguments.joined(separator: " ")): \(output)") }
        return output
    }

    static func deploy(_ client: any TestClientProtocol, _ key: String, _ project: String, _ body: [String: Any], update: Bool = false) async throws -> [String: Any] {
        let data = try JSONSerialization.data(withJSONObject: body)
        return try await client.execute(
            uri: "/api/project/\(project)/deploy/git\(update ? "/update" : "")", method: .post, headers: .bearer(key), body: ByteBuffer(data: data)
        ) { response in
            #expect(response.status == .ok, "\(response.text)")
            return response.json
        }
    }

    /// Files of a checkout (without `.git`), by relative path.
    static func tree(_ root: String) -> [String: String] {
        var result: [String: String] = [:]
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let relative = enumerator?.nextObject() as? String {
            if relative == ".git" || relative.hasPrefix(".git/") { continue }
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: root + "/" + relative, isDirectory: &isDirectory)
            if !isDirectory.boolValue { result[relative] = (try? String(contentsOfFile: root + "/" + relative, encoding: .utf8)) ?? "?" }
        }
        return result
    }

    @Test func deploysToABareRepositoryAndAGitDaemonAndUpdatesWithNewCommits() async throws {
        let scratch = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let port = Int.random(in: 20_000..<40_000)
        // A local repository and a daemon on loopback are the operator's to allow.
        let host = try TestHost.unthrottled { $0.deployAllowedRemotes = [scratch + "/", "git://127.0.0.1:\(port)/"] }
        defer { host.remove() }
        try Self.git(["init", "--quiet", "--bare", scratch + "/remote.git"])
        try await host.test { client in
            let sandboxes = SandboxClient(client: client, key: host.adminKey)
            let (project, sandbox) = try await sandboxes.create(name: "site")
            let files = FileClient(client: client, key: host.adminKey, sandbox: sandbox)
            _ = try await files.put("index.html", "<h1>v1</h1>\n")
            _ = try await files.put("src/app.js", "console.log('app')\n")
            _ = try await files.put(".gitignore", "secret.txt\n")
            _ = try await files.put("secret.txt", "do not publish\n")
            _ = try await files.put("node_modules/dep/index.js", "heavy\n")

            let first = try await Self.deploy(client, host.adminKey, project, ["remote_url": scratch + "/remote.git", "message": "first deploy"])
            #expect(first["status"] as? String == "deployed", "\(first)")
            #expect((first["commit"] as? String)?.count == 40)
            try Self.git(["clone", "--quiet", "-b", "main", scratch + "/remote.git", scratch + "/clone"])
            #expect(Self.tree(scratch + "/clone") == [".gitignore": "secret.txt\n", "index.html": "<h1>v1</h1>\n", "src/app.js": "console.log('app')\n"])

            _ = try await files.put("index.html", "<h1>v2</h1>\n")
            let second = try await Self.deploy(client, host.adminKey, project, ["message": "second"], update: true)
            #expect(second["status"] as? String == "deployed", "\(second)")
            try Self.git(["pull", "--quiet"], in: scratch + "/clone")
            #expect(Self.tree(scratch + "/clone")["index.html"] == "<h1>v2</h1>\n")
            #expect(try Self.git(["log", "--format=%s"], in: scratch + "/clone") == "second\nfirst deploy\n")

            // Two deployments at once: one after the other, each its own commit.
            async let a = Self.deploy(client, host.adminKey, project, ["message": "a"], update: true)
            async let b = Self.deploy(client, host.adminKey, project, ["message": "b"], update: true)
            let (left, right) = try await (a, b)
            #expect(left["status"] as? String == "deployed" && right["status"] as? String == "deployed")
            #expect(left["commit"] as? String != right["commit"] as? String)

            // The git protocol, through a daemon on loopback.
            try Self.git(["init", "--quiet", "--bare", scratch + "/served/daemon.git"])
            let daemon = Process()
            // The daemon itself, not the `git daemon` wrapper (which outlives a SIGTERM).
            daemon.executableURL = URL(fileURLWithPath: "/usr/lib/git-core/git-daemon")
            daemon.arguments = ["--reuseaddr", "--export-all", "--enable=receive-pack", "--listen=127.0.0.1", "--port=\(port)",
                                "--base-path=\(scratch)/served", "\(scratch)/served"]
            daemon.standardError = FileHandle.nullDevice
            try daemon.run()
            defer { kill(daemon.processIdentifier, SIGKILL); daemon.waitUntilExit() }
            let url = "git://127.0.0.1:\(port)/daemon.git"
            var ready = false
            for _ in 0..<200 where !ready {
                ready = (try? Self.git(["ls-remote", url], in: scratch)) != nil
                if !ready { try await Task.sleep(for: .milliseconds(20)) }
            }
            try #require(ready, "git daemon did not start")
            let viaDaemon = try await Self.deploy(client, host.adminKey, project, ["remote_url": url, "branch": "release"])
            #expect(viaDaemon["status"] as? String == "deployed", "\(viaDaemon)")
            try Self.git(["clone", "--quiet", "-b", "release", url, scratch + "/clone2"])
            #expect(Self.tree(scratch + "/clone2")["index.html"] == "<h1>v2</h1>\n")
            #expect(Self.tree(scratch + "/clone2")["secret.txt"] == nil)
        }
    }

    @Test func rejectedAndUnreachablePushesFailWithTheReasonAndNoSecret() async throws {
        let scratch = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let host = try TestHost.unthrottled { $0.deployAllowedRemotes = [scratch + "/", "https://127.0.0.1:1/"] }
        defer { host.remove() }
        // A remote whose main has history of its own: our push is not a fast-forward.
        try Self.git(["init", "--quiet", "--bare", scratch + "/remote.git"])
        try Self.git(["init", "--quiet", scratch + "/other"])
        try "other\n".write(toFile: scratch + "/other/file", atomically: true, encoding: .utf8)
        try Self.git(["add", "file"], in: scratch + "/other")
        try Self.git(["commit", "--quiet", "-m", "theirs"], in: scratch + "/other")
        try Self.git(["push", "--quiet", scratch + "/remote.git", "HEAD:refs/heads/main"], in: scratch + "/other")
        try await host.test { client in
            let (project, sandbox) = try await SandboxClient(client: client, key: host.adminKey).create(name: "p")
            _ = try await FileClient(client: client, key: host.adminKey, sandbox: sandbox).put("index.html", "x")
            let rejected = try await Self.deploy(client, host.adminKey, project, ["remote_url": scratch + "/remote.git"])
            #expect(rejected["status"] as? String == "failed")
            #expect((rejected["error"] as? String)?.contains("rejected") == true, "\(rejected)")
            let live = try await client.execute(uri: "/api/project/\(project)/deployment/live-status", method: .get, headers: .bearer(host.adminKey)) { $0.json }
            #expect(live["state"] as? String == "failed")
            #expect((live["error"] as? String)?.contains("rejected") == true)

            let unreachable = try await Self.deploy(client, host.adminKey, project, ["remote_url": "https://deployer:s3cr3t-token@127.0.0.1:1/repo.git"])
            #expect(unreachable["status"] as? String == "failed")
            let error = unreachable["error"] as? String ?? ""
            #expect(error.contains("127.0.0.1") && !error.contains("s3cr3t"), "\(error)")
            let status = try await client.execute(uri: "/api/project/\(project)/deployment/status", method: .get, headers: .bearer(host.adminKey)) { $0.json }
            #expect(status["has_deployment"] as? Bool == false)
            let bad = try await client.execute(
                uri: "/api/project/\(project)/deploy/git", method: .post, headers: .bearer(host.adminKey),
                body: ByteBuffer(string: #"{"remote_url":"--upload-pack=touch /tmp/x"}"#)) { $0.status }
            #expect(bad == .badRequest)
        }
    }

    @Test(.testHost(configure: unthrottled)) func aBuiltSiteIsServedAndNothingOutsideItIs() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let (project, sandbox) = try await SandboxClient(client: client, key: host.adminKey).create(name: "built")
        let files = FileClient(client: client, key: host.adminKey, sandbox: sandbox)
        _ = try await files.put("src/page.html", "<h1>source</h1>\n")
        let build = "mkdir -p dist/assets && cp src/page.html dist/index.html && echo 'console.log(1)' > dist/assets/app.js"
        let deployed = try await Self.deploy(client, host.adminKey, project, ["build_command": build])
        #expect(deployed["status"] as? String == "deployed", "\(deployed)")
        #expect((deployed["url"] as? String)?.hasPrefix("http://\(project).apps.localhost:") == true)

        func get(_ uri: String, headers: HTTPFields = [:]) async throws -> (HTTPResponse.Status, String, String?) {
            try await client.execute(uri: uri, method: .get, headers: headers) { ($0.status, $0.text, $0.headers[.contentType]) }
        }
        let index = try await get("/deployments/\(project)/")
        #expect(index.0 == .ok && index.1 == "<h1>source</h1>\n")
        #expect(index.2?.hasPrefix("text/html") == true)
        let script = try await get("/deployments/\(project)/assets/app.js")
        #expect(script.1 == "console.log(1)\n" && script.2?.hasPrefix("text/javascript") == true)
        #expect(try await get("/deployments/\(project)/some/client/route").1 == "<h1>source</h1>\n", "single-page fallback")
        #expect(try await get("/deployments/\(project)/missing.png").0 == .notFound)
        let viaHost = try await get("/assets/app.js", headers: [HTTPField.Name("Host")!: "\(project).apps.localhost:8000"])
        #expect(viaHost.1 == "console.log(1)\n", "Host-based site")
        let adminKey = host.adminKey
        for attempt in ["/deployments/\(project)/../../admin.key", "/deployments/\(project)/%2e%2e/%2e%2e/admin.key",
                        "/deployments/\(project)/..%2f..%2f..%2fadmin.key", "/deployments/\(project)/%2e%2e%2f%2e%2e%2fsandbox-host.sqlite3",
                        "/deployments/../admin.key", "/deployments/%2e%2e/admin.key"] {
            let (status, body, _) = try await get(attempt)
            #expect(status == .notFound, "\(attempt): \(status)")
            #expect(!body.contains(adminKey) && !body.contains("SQLite"), "\(attempt) leaked")
        }

        // A failed build leaves the last good site in place.
        let broken = try await Self.deploy(client, host.adminKey, project, ["build_command": "echo oops >&2; exit 3"])
        #expect(broken["status"] as? String == "failed")
        #expect((broken["error"] as? String)?.contains("exit code 3") == true, "\(broken)")
        #expect(try await get("/deployments/\(project)/").1 == "<h1>source</h1>\n")
        let status = try await client.execute(uri: "/api/project/\(project)/deployment/status", method: .get, headers: .bearer(host.adminKey)) { $0.json }
        #expect(status["has_deployment"] as? Bool == true)
        #expect(status["last_deployment_id"] as? String == deployed["deployment_id"] as? String)
        #expect((status["domains"] as? [String])?.first == "\(project).apps.localhost:8000")
    }
}
