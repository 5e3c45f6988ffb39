import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost

/// File watching (`GET …/files/watch`), against the real binary and real sandboxes: changes made
/// inside the sandbox and through the API arrive with `/workspace` paths, new directories keep
/// what was put in them before their watch, bursts coalesce, heavy directories stay quiet unless
/// `all=true`, the watch budget overflows cleanly, and the inotify instance goes with the last client.
@Suite(.timeLimit(.minutes(1)))
struct WatchTests {
    /// Runs `command` in the sandbox through the host; fails the test unless it exits 0.
    static func exec(_ host: HostProcess, _ key: String, _ sandbox: String, _ command: String) async throws {
        let body = String(decoding: try JSONSerialization.data(withJSONObject: ["command": command]), as: UTF8.self)
        let answer = try await host.request(.POST, "/api/sandboxes/\(sandbox)/execute", key: key, body: body)
        #expect(answer.status == 200 && answer.body.contains(#""exit_code":0"#), "\(command): \(answer.body)")
    }

    static func started(_ environment: [String: String] = [:]) async throws -> (HostProcess, String, String, String) {
        let dataDir = try TemporaryDirectory.make()
        let host = try await HostProcess(dataDir: dataDir, environment: ["SANDBOX_HOST_HEARTBEAT_MS": "200"].merging(environment) { $1 })
        let key = try host.adminKey
        let (_, sandbox) = try await host.createSandbox(key: key)
        return (host, key, sandbox, dataDir)
    }

    static func finish(_ host: HostProcess, _ dataDir: String) async throws {
        try await host.stop()
        try? FileManager.default.removeItem(atPath: dataDir)
    }

    @Test("create, modify, rename and delete from inside the sandbox and through the API, with /workspace paths")
    func changesFromInsideAndThroughTheAPI() async throws {
        let (host, key, sandbox, dataDir) = try await Self.started()
        let watch = try await WatchStream.open(host, sandbox: sandbox, key: key)

        // A directory made with files already in it before its watch could be added.
        try await Self.exec(host, key, sandbox, "mkdir -p /workspace/a/b && echo one > /workspace/a/b/c")
        try await watch.waitFor("create", "/workspace/a/b/c")
        #expect(watch.changes.contains { $0.type == "create" && $0.path == "/workspace/a" && $0.isDirectory == true })
        #expect(watch.changes.contains { $0.type == "create" && $0.path == "/workspace/a/b" && $0.isDirectory == true })
        #expect(watch.changes.contains { $0.path == "/workspace/a/b/c" && $0.isDirectory == false })
        try await Self.exec(host, key, sandbox, "echo two >> /workspace/a/b/c")
        try await watch.waitFor("modify", "/workspace/a/b/c")
        try await Self.exec(host, key, sandbox, "mv /workspace/a/b/c /workspace/a/d")
        try await watch.wait("the rename") { $0.contains { $0.type == "rename" && $0.path == "/workspace/a/d" && $0.oldPath == "/workspace/a/b/c" } }
        // A renamed directory keeps its watches, and the paths below it follow.
        try await Self.exec(host, key, sandbox, "mv /workspace/a/b /workspace/a/moved && echo x > /workspace/a/moved/inside")
        try await watch.waitFor("create", "/workspace/a/moved/inside")
        try await Self.exec(host, key, sandbox, "rm /workspace/a/d")
        try await watch.waitFor("delete", "/workspace/a/d")

        // Through the API: a new file, the same file written again, a move, a delete.
        let content = "/api/sandboxes/\(sandbox)/files/content?path="
        #expect(try await host.requestBytes(.PUT, content + "api/x.txt", key: key, body: Array("one".utf8)).status == 200)
        try await watch.waitFor("create", "/workspace/api/x.txt")
        #expect(try await host.requestBytes(.PUT, content + "api/x.txt", key: key, body: Array("two".utf8)).status == 200)
        try await watch.waitFor("modify", "/workspace/api/x.txt")
        let moved = try await host.request(.POST, "/api/sandboxes/\(sandbox)/files/move", key: key, body: #"{"from":"api/x.txt","to":"api/y.txt"}"#)
        #expect(moved.status == 200)
        try await watch.wait("the API's move") { $0.contains { $0.type == "rename" && $0.path == "/workspace/api/y.txt" && $0.oldPath == "/workspace/api/x.txt" } }
        #expect(try await host.request(.DELETE, "/api/sandboxes/\(sandbox)/files?path=api/y.txt", key: key).status == 200)
        try await watch.waitFor("delete", "/workspace/api/y.txt")

        let changes = watch.changes
        #expect(!changes.contains { $0.data.contains(".sbx-") || $0.data.contains(dataDir) }, "no temporary name, no host path: \(changes)")
        #expect(changes.allSatisfy { $0.path.hasPrefix("/workspace/") && $0.name == "message" })
        let ids = changes.compactMap(\.id)
        #expect(ids.count == changes.count && ids == Array(1...max(1, ids.count)), "ids in sequence: \(ids)")
        watch.close()
        try await Self.finish(host, dataDir)
    }

    @Test("node_modules and .git are not watched unless all=true")
    func heavyDirectoriesOnlyWithAll() async throws {
        let (host, key, sandbox, dataDir) = try await Self.started()
        try await Self.exec(host, key, sandbox, "mkdir -p /workspace/node_modules/pkg /workspace/src")
        // A link to a directory of the host's (a canary under a temp dir): never followed, never watched.
        let canary = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: canary) }
        let project = try #require(try FileManager.default.contentsOfDirectory(atPath: dataDir + "/workspaces").first { !$0.hasPrefix(".") })
        try FileManager.default.createSymbolicLink(atPath: dataDir + "/workspaces/\(project)/workspace/escape", withDestinationPath: canary)
        let plain = try await WatchStream.open(host, sandbox: sandbox, key: key)
        let all = try await WatchStream.open(host, sandbox: sandbox, key: key, query: "all=true")
        let flat = try await WatchStream.open(host, sandbox: sandbox, key: key, query: "recursive=false")
        try await Self.exec(host, key, sandbox, """
            echo x > /workspace/node_modules/pkg/index.js && mkdir -p /workspace/.git/objects && echo y > /workspace/.git/objects/o \
            && echo z > /workspace/src/main.ts && echo done > /workspace/sentinel
            """)
        try "outside".write(toFile: canary + "/secret", atomically: false, encoding: .utf8)
        try await all.waitFor("create", "/workspace/node_modules/pkg/index.js")
        try await all.waitFor("create", "/workspace/.git/objects/o")
        try await all.waitFor("create", "/workspace/sentinel")
        try await plain.waitFor("create", "/workspace/sentinel")
        #expect(plain.changes.contains { $0.type == "create" && $0.path == "/workspace/src/main.ts" })
        // The heavy directory itself is listed (it was created), nothing inside it is.
        #expect(plain.changes.contains { $0.type == "create" && $0.path == "/workspace/.git" })
        #expect(!plain.changes.contains { $0.path.hasPrefix("/workspace/node_modules/") || $0.path.hasPrefix("/workspace/.git/") }, "\(plain.changes)")
        try await Self.exec(host, key, sandbox, "echo last > /workspace/last")
        try await all.waitFor("create", "/workspace/last")
        #expect(!(plain.changes + all.changes).contains { $0.data.contains("secret") || $0.data.contains(canary) }, "the link was followed")
        // Not recursive: the directory's own entries only.
        try await flat.waitFor("create", "/workspace/sentinel")
        #expect(!flat.changes.contains { $0.path.hasPrefix("/workspace/src/") || $0.path.hasPrefix("/workspace/node_modules/") }, "\(flat.changes)")
        plain.close()
        flat.close()
        all.close()
        try await Self.finish(host, dataDir)
    }

    @Test("5,000 writes to one file in a burst give few modify events")
    func aBurstOfWritesIsCoalesced() async throws {
        let (host, key, sandbox, dataDir) = try await Self.started()
        let watch = try await WatchStream.open(host, sandbox: sandbox, key: key, query: "path=/workspace")
        // Two files written in turn: the kernel merges only identical events in a row, so each
        // write is an event of its own for the host to coalesce.
        try await Self.exec(host, key, sandbox, """
            i=0; while [ $i -lt 5000 ]; do echo $i >> /workspace/burst.log; echo $i >> /workspace/other.log; i=$((i+1)); done; \
            echo done > /workspace/after
            """)
        try await watch.waitFor("create", "/workspace/after")
        try await watch.waitFor("modify", "/workspace/burst.log")
        let modifies = watch.changes.filter { $0.type == "modify" && $0.path == "/workspace/burst.log" }
        #expect(modifies.count < 500, "\(modifies.count) modify events for 5,000 writes")
        #expect(!watch.changes.contains { $0.type == "overflow" }, "nothing dropped: \(watch.changes.filter { $0.type == "overflow" })")
        watch.close()

        // A watched directory deleted: its stream says so and ends.
        try await Self.exec(host, key, sandbox, "mkdir -p /workspace/gone/inner")
        let gone = try await WatchStream.open(host, sandbox: sandbox, key: key, query: "path=gone")
        try await Self.exec(host, key, sandbox, "echo x > /workspace/gone/inner/f && rm -rf /workspace/gone")
        try await gone.waitFor("create", "/workspace/gone/inner/f")
        try await gone.wait("the stream's end") { $0.contains { $0.type == "delete" && $0.path == "/workspace/gone" } }
        try await waitUntil("the stream to end") { gone.isEnded }
        try await Self.finish(host, dataDir)
    }

    @Test("past SANDBOX_HOST_MAX_WATCHES the stream says overflow (watch_limit) and goes on")
    func theWatchBudgetOverflowsCleanly() async throws {
        let (host, key, sandbox, dataDir) = try await Self.started(["SANDBOX_HOST_MAX_WATCHES": "3"])
        try await Self.exec(host, key, sandbox, "mkdir -p /workspace/d1/x /workspace/d2/x /workspace/d3/x /workspace/d4/x")
        let watch = try await WatchStream.open(host, sandbox: sandbox, key: key)
        try await watch.wait("overflow") { $0.contains { $0.type == "overflow" && $0.json["reason"] as? String == "watch_limit" } }
        try await Self.exec(host, key, sandbox, "echo hi > /workspace/top.txt && mkdir -p /workspace/d5/y")
        try await watch.waitFor("create", "/workspace/top.txt")
        try await watch.waitFor("create", "/workspace/d5")
        #expect(try await host.request(.GET, "/api/health", key: nil).status == 200)
        watch.close()
        try await Self.finish(host, dataDir)
    }

    /// The project's clients share one inotify instance, closed when the last one goes.
    @Test("one inotify instance per watched project, closed after the last client goes; ?token= works")
    func theInotifyInstanceGoesWithTheLastClient() async throws {
        let (host, key, sandbox, dataDir) = try await Self.started()
        let pid = host.process.processIdentifier
        let before = Self.inotifyInstances(pid)
        let first = try await WatchStream.open(host, sandbox: sandbox, key: key)
        let second = try await WatchStream.open(host, sandbox: sandbox, key: key, query: "path=/workspace", token: true)
        #expect(Self.inotifyInstances(pid) == before + 1)
        first.close()
        try await Self.exec(host, key, sandbox, "echo one > /workspace/one")
        try await second.waitFor("create", "/workspace/one")
        second.close()
        try await waitUntil("the inotify instance to be closed", timeout: .seconds(20)) { Self.inotifyInstances(pid) == before }
        // A new client gets a new one.
        let third = try await WatchStream.open(host, sandbox: sandbox, key: key)
        #expect(Self.inotifyInstances(pid) == before + 1)
        third.close()
        try await waitUntil("the inotify instance to be closed again", timeout: .seconds(20)) { Self.inotifyInstances(pid) == before }
        // Deleting the project (its volume unmounted) ends its watches.
        let last = try await WatchStream.open(host, sandbox: sandbox, key: key)
        let projects = try await host.request(.GET, "/api/projects", key: key)
        let project = try #require(projects.body.split(separator: "\"").drop { $0 != "project_id" }.dropFirst(2).first.map(String.init))
        #expect(try await host.request(.DELETE, "/api/projects/\(project)", key: key).status == 200)
        try await waitUntil("the stream to end with its project", timeout: .seconds(20)) { last.isEnded }
        try await waitUntil("the inotify instance to be closed with its project", timeout: .seconds(20)) { Self.inotifyInstances(pid) == before }
        try await Self.finish(host, dataDir)
    }

    /// Descriptors of process `pid` that are inotify instances.
    static func inotifyInstances(_ pid: Int32) -> Int {
        let directory = "/proc/\(pid)/fd"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + $0)) == "anon_inode:inotify" }.count
    }

    @Test("another user's sandbox is 404; a missing path 404; a file, a link or a path outside 400; no key 401", .hostWithSandbox)
    func refusals() async throws {
        let fixture = try HostFixture.current
        let (client, sandbox, key) = (fixture.client, fixture.sandbox, fixture.key)
        let other = try fixture.host.makeUser("mallory")
        let workspace = fixture.host.services.workspaces.path(projectID: fixture.project)
        try "x".write(toFile: workspace + "/file.txt", atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: workspace + "/dir", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: workspace + "/link", withDestinationPath: "/workspace/dir")
        let cases: [(query: String, key: String?, status: HTTPResponse.Status)] = [
            ("", other, .notFound), ("path=missing", key, .notFound), ("path=file.txt", key, .badRequest),
            ("path=link", key, .badRequest), ("path=../etc", key, .badRequest), ("path=/etc", key, .badRequest), ("", nil, .unauthorized),
        ]
        for (query, caller, status) in cases {
            let headers: HTTPFields = caller.map { .bearer($0) } ?? [:]
            try await client.execute(uri: "/api/sandboxes/\(sandbox)/files/watch?\(query)", method: .get, headers: headers) { response in
                #expect(response.status == status, "\(query) as \(caller == other ? "another user" : "the owner"): \(response.text)")
                #expect(!response.text.contains(workspace))
            }
        }
        #expect(fixture.host.services.fileWatches.watchedProjects == 0)
    }
}
