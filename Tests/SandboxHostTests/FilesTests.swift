import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost

/// The Files section of the contract through the real router, on a real workspace.
@Suite(.enabled(if: runningAsRoot, "file routes need a sandbox, which needs root, as in CI"))
struct FilesTests {
    @Test(.hostWithSandbox(configure: unthrottled)) func writeReadListTreeMoveDeleteRoundTrip() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client, sandboxes = fixture.sandboxes
        let sandbox = fixture.sandbox
        let files = FileClient(client: client, key: host.adminKey, sandbox: sandbox)
        #expect(try await files.put("src/app.ts", "console.log('hi')\n") == .ok)
        #expect(try await files.put("/workspace/README.md", "# Demo\n") == .ok)
        #expect(try await files.put("./src/lib/util.ts", "export const x = 1\n") == .ok)
        #expect(try await files.put("node_modules/pkg/index.js", "module.exports = 1\n") == .ok)

        let (status, body, headers) = try await files.read("/workspace/src/app.ts")
        #expect(status == .ok)
        #expect(body == "console.log('hi')\n")
        #expect(headers[.contentLength] == "18")
        #expect(headers[.acceptRanges] == "bytes")
        #expect(try await files.read("README.md").headers[.contentType]?.hasPrefix("text/markdown") == true)

        // Range: a slice, a suffix, and one past the end.
        let slice = try await files.read("src/app.ts", headers: [.range: "bytes=0-6"])
        #expect(slice.status == .partialContent)
        #expect(slice.body == "console")
        #expect(slice.headers[.contentRange] == "bytes 0-6/18")
        #expect(try await files.read("src/app.ts", headers: [.range: "bytes=-3"]).body == "')\n")
        let beyond = try await files.read("src/app.ts", headers: [.range: "bytes=100-"])
        #expect(beyond.status == .rangeNotSatisfiable)
        #expect(beyond.headers[.contentRange] == "bytes */18")

        #expect(try await files.read("missing.txt").status == .notFound)
        #expect(try await files.read("src").status == .badRequest)

        let listed = try await files.call(.get, "/files?path=/workspace")
        #expect(listed.status == .ok)
        let entries = listed.json["files"] as? [[String: Any]] ?? []
        #expect(entries.map { $0["name"] as? String } == ["node_modules", "src", "README.md"])
        let readme = try #require(entries.last)
        #expect(readme["path"] as? String == "/workspace/README.md")
        #expect(readme["is_dir"] as? Bool == false)
        #expect(readme["size"] as? Int == 7)
        #expect(readme["permissions"] as? String == "0644")
        #expect((readme["mod_time"] as? String)?.hasSuffix("Z") == true)

        let tree = try await files.call(.get, "/files/tree")
        #expect(tree.json["basePath"] as? String == "/workspace")
        #expect(tree.json["totalFiles"] as? Int == 3, "node_modules is listed, not descended into")
        let nodes = tree.json["tree"] as? [[String: Any]] ?? []
        #expect(nodes.map { $0["name"] as? String } == ["node_modules", "src", "README.md"])
        #expect(nodes.first?["children"] == nil)
        let src = nodes[1]["children"] as? [[String: Any]] ?? []
        #expect(src.map { $0["name"] as? String } == ["lib", "app.ts"])
        #expect(src.first?["type"] as? String == "directory")
        #expect(src.last?["size"] as? Int == 18)
        #expect(try await files.call(.get, "/files/tree?all=true").json["totalFiles"] as? Int == 4)
        let shallow = try await files.call(.get, "/files/tree?depth=1")
        #expect(shallow.json["totalFiles"] as? Int == 1)
        #expect(try await files.call(.get, "/files/tree?path=src/lib").json["totalFiles"] as? Int == 1)

        let moved = try await files.call(.post, "/files/move", body: ByteBuffer(string: #"{"from":"src/app.ts","to":"/workspace/app/main.ts"}"#))
        #expect(moved.status == .ok)
        #expect(moved.json["path"] as? String == "/workspace/app/main.ts")
        #expect(try await files.read("app/main.ts").body == "console.log('hi')\n")
        #expect(try await files.read("src/app.ts").status == .notFound)
        #expect(try await files.call(.post, "/files/move", body: ByteBuffer(string: #"{"from":"nothing","to":"x"}"#)).status == .notFound)
        #expect(try await files.call(.post, "/files/move", body: ByteBuffer(string: #"{"from":"app","to":"app/inner"}"#)).status == .badRequest)

        let deleted = try await files.call(.delete, "/files?path=src")
        #expect(deleted.status == .ok)
        #expect(deleted.json["deleted"] as? Bool == true)
        #expect(deleted.json["path"] as? String == "/workspace/src")
        #expect(try await files.read("src/lib/util.ts").status == .notFound)
        #expect(try await files.call(.delete, "/files?path=/workspace").status == .badRequest)
        #expect(try await files.call(.delete, "/files?path=src").status == .notFound)

        // Writes through the API are the sandbox's: a command inside edits and removes them.
        #expect(try await sandboxes.run(sandbox, "echo more >> app/main.ts && cat app/main.ts && rm README.md && echo ok") == "console.log('hi')\nmore\nok\n")
        #expect(try await files.read("README.md").status == .notFound)
    }

    @Test(.hostWithSandbox(configure: unthrottled)) func multipartUploadsOneFileOrManyIntoADirectory() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let sandbox = fixture.sandbox
        let files = FileClient(client: client, key: host.adminKey, sandbox: sandbox)
        let binary = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let one = try await files.multipart(path: "/workspace/assets/logo.bin", files: [("whatever.bin", binary)])
        #expect(one.status == .ok, "\(one.json)")
        #expect(one.json["created"] as? Bool == true)
        #expect((one.json["files"] as? [[String: Any]])?.first?["size"] as? Int == 70_000)
        let workspace = try await files.workspace(host)
        #expect(FileManager.default.contents(atPath: workspace + "/assets/logo.bin") == Data(binary))

        let many = try await files.multipart(path: "site", files: [
            ("index.html", Array("<h1>hi</h1>".utf8)), ("css/style.css", Array("h1{}".utf8)), ("dir with space/ünï.txt", Array("u".utf8)),
        ])
        #expect(many.status == .ok, "\(many.json)")
        let paths = (many.json["files"] as? [[String: Any]])?.compactMap { $0["path"] as? String }
        #expect(paths == ["/workspace/site/index.html", "/workspace/site/css/style.css", "/workspace/site/dir with space/ünï.txt"])
        #expect(try await files.read("site/dir with space/ünï.txt").body == "u")

        // One part whose filename climbs out: refused, and nothing of the request is written.
        let before = FileClient.snapshot(workspace)
        let escape = try await files.multipart(path: "site", files: [("ok.txt", [1]), ("../../../etc/evil", [2])])
        #expect(escape.status == .badRequest)
        #expect(FileClient.snapshot(workspace) == before)
        #expect(try await files.call(.post, "/files", body: ByteBuffer(string: "x"), contentType: "text/plain").status == .badRequest)
        #expect(try await files.multipart(path: "x", files: []).status == .unprocessableContent)
        #expect(try FileManager.default.contentsOfDirectory(atPath: host.configuration.stagingPath).isEmpty)
    }

    @Test(.hostWithSandbox(configure: unthrottled)) func searchFindsLinesSkipsBinaryAndHeavyDirectoriesAndCaps() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let sandbox = fixture.sandbox
        let files = FileClient(client: client, key: host.adminKey, sandbox: sandbox)
        _ = try await files.put("src/a.ts", "let x = 1\n// TODO: first\nlet y = 2\n// TODO: second\n")
        _ = try await files.put("src/b.py", "# TODO: python\n")
        _ = try await files.put("node_modules/dep/index.js", "// TODO: hidden\n")
        _ = try await files.put("image.bin", bytes: [0, 1, 2] + Array("TODO: binary".utf8))
        let found = try await files.call(.get, "/files/search?query=TODO")
        #expect(found.status == .ok)
        let matches = found.json["matches"] as? [[String: Any]] ?? []
        #expect(matches.map { "\($0["path"]!):\($0["line"]!):\($0["text"]!)" } == [
            "/workspace/src/a.ts:2:// TODO: first", "/workspace/src/a.ts:4:// TODO: second", "/workspace/src/b.py:1:# TODO: python",
        ])
        #expect(found.json["truncated"] as? Bool == false)
        let globbed = try await files.call(.get, "/files/search?query=TODO&glob=*.py")
        #expect((globbed.json["matches"] as? [[String: Any]])?.count == 1)
        let capped = try await files.call(.get, "/files/search?query=TODO&limit=2")
        #expect((capped.json["matches"] as? [[String: Any]])?.count == 2)
        #expect(capped.json["truncated"] as? Bool == true)
        #expect((try await files.call(.get, "/files/search?query=TODO&all=true").json["matches"] as? [Any])?.count == 4)
        #expect(try await files.call(.get, "/files/search?query=").status == .unprocessableContent)
    }

    @Test(.hostWithSandbox(configure: unthrottled)) func concurrentWritesToOnePathLeaveOneCompleteVersion() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let sandbox = fixture.sandbox
        let files = FileClient(client: client, key: host.adminKey, sandbox: sandbox)
        let versions = (0..<8).map { index in [UInt8](repeating: UInt8(65 + index), count: 300_000 + index) }
        try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
            for version in versions { group.addTask { try await files.put("shared.bin", bytes: version) } }
            for try await status in group { #expect(status == .ok) }
        }
        let workspace = try await files.workspace(host)
        let final = try #require(FileManager.default.contents(atPath: workspace + "/shared.bin"))
        #expect(versions.contains { Data($0) == final }, "the file is one of the versions written, whole")
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace) == ["shared.bin"], "no temp files left")
    }

    @Test(.hostWithSandbox { configuration in
        unthrottled(&configuration)
        configuration.maxUploadBytes = 1 << 20
        configuration.workspaceQuotaBytes = (5 << 20) / 2
        // The quota applies to plain workspace directories; a disk image bounds the rest (DiskLimitTests).
        configuration.diskImages = false
    })
    func uploadLimitAndQuotaAreEnforcedAndLeaveNothing() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let sandbox = fixture.sandbox
        let files = FileClient(client: client, key: host.adminKey, sandbox: sandbox)
        #expect(try await files.put("big.bin", bytes: [UInt8](repeating: 1, count: (1 << 20) + 1)) == .contentTooLarge)
        #expect(try await files.put("a.bin", bytes: [UInt8](repeating: 1, count: 1 << 20)) == .ok)
        #expect(try await files.put("b.bin", bytes: [UInt8](repeating: 1, count: 1 << 20)) == .ok)
        let over = try await files.call(.put, "/files/content?path=c.bin", body: ByteBuffer(bytes: [UInt8](repeating: 1, count: 1 << 20)))
        #expect(over.status == .contentTooLarge)
        #expect(over.json["code"] as? String == "PAYLOAD_TOO_LARGE")
        let workspace = try await files.workspace(host)
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace).sorted() == ["a.bin", "b.bin"])
    }
}
