import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost

extension HeavySuites {
    /// Nothing outside the workspace is reached through the file routes: the traversal corpus
    /// against every route that takes a path, and links made inside the sandbox that point out.
    @Suite(.enabled(if: runningAsRoot, "file routes need a sandbox, which needs root, as in CI"))
    struct FileSafetyTests {
        /// A payload as a query value "as it is": pre-encoded stays encoded (the server decodes once);
        /// only what cannot appear in a URI is escaped.
        static func queryValue(_ payload: String) -> String {
            var allowed = CharacterSet.urlQueryAllowed
            allowed.insert("%")
            allowed.remove(charactersIn: "&+#")
            return payload.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        }

        /// The whole list against the route that returns bytes; every 5th payload against the other
        /// path routes, every 25th against the raw write (each one an fsync). `WorkspaceRootTests`
        /// runs the whole list against the resolver itself.
        @Test func everyTraversalPayloadAgainstEveryPathRouteStaysInside() async throws {
            let host = try TestHost.unthrottled()
            defer { host.remove() }
            let payloads = try Corpus.traversalPayloads()
            try #require(payloads.count > (Corpus.isPresent ? 20_000 : 500), "corpus not found at \(Corpus.root.path)")
            let hostPasswd = try String(contentsOfFile: "/etc/passwd", encoding: .utf8)
            let watched = ArchiveTests.targets + ["/etc/shadow", "/etc/hostname"]
            let targets = ArchiveTests.state(of: watched)
            let emptyTar = ByteBuffer(repeating: 0, count: 1024)
            try await host.test { client in
                let (_, sandbox) = try await SandboxClient(client: client, key: host.adminKey).create()
                let files = FileClient(client: client, key: host.adminKey, sandbox: sandbox)
                let workspace = try await files.workspace(host)
                let outside = try FileManager.default.contentsOfDirectory(atPath: host.directory).sorted()
                _ = try await files.put("inside.txt", "inside")
                let headers: HTTPFields = [.authorization: "Bearer \(host.adminKey)", .contentType: "application/octet-stream"]
                let statuses = Locked<[Int: Int]>([:])
                let sent = Locked(0)
                @Sendable func check(_ index: Int, _ payload: String) async throws {
                    let value = Self.queryValue(payload)
                    var requests: [(HTTPRequest.Method, String, ByteBuffer?)] = [(.get, "/files/content?path=\(value)", nil)]
                    if index % 5 == 0 {
                        let json = try JSONSerialization.data(withJSONObject: ["from": payload, "to": payload])
                        requests += [
                            (.get, "/files?path=\(value)", nil),
                            (.get, "/files/tree?path=\(value)", nil),
                            (.get, "/files/search?query=root&path=\(value)", nil),
                            (.get, "/download-archive?format=tar&path=\(value)", nil),
                            (.post, "/files/archive?path=\(value)", emptyTar),
                            (.post, "/files/move", ByteBuffer(data: json)),
                            (.delete, "/files?path=\(value)", nil),
                        ]
                    }
                    if index % 25 == 0 { requests.append((.put, "/files/content?path=\(value)", ByteBuffer(string: "written"))) }
                    for (method, route, body) in requests {
                        try await client.execute(uri: files.base + route, method: method, headers: headers, body: body) { response in
                            statuses.mutate { $0[Int(response.status.code), default: 0] += 1 }
                            #expect(response.status.code < 500, "\(method) \(route): \(response.status)")
                            let text = response.body.readableBytes > 0 ? String(buffer: response.body) : ""
                            #expect(!text.contains("root:x:0:0") && text != hostPasswd, "\(method) \(route) returned a host file")
                        }
                    }
                    sent.mutate { $0 += requests.count }
                }
                // Two at a time: fast enough, and it leaves room for the timing-sensitive tests that
                // run beside it (their health checks must answer within a second).
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for lane in 0..<2 {
                        group.addTask {
                            for index in stride(from: lane, to: payloads.count, by: 2) { try await check(index, payloads[index]) }
                        }
                    }
                    try await group.waitForAll()
                }
                print("traversal corpus: \(payloads.count) payloads, \(sent.value) requests, statuses \(statuses.value.sorted { $0.key < $1.key })")
                #expect(ArchiveTests.state(of: watched) == targets)
                #expect(try FileManager.default.contentsOfDirectory(atPath: host.directory).sorted() == outside)
                #expect(ArchiveTests.violations(in: workspace) == [])
            }
        }

        @Test(.hostWithSandbox(configure: unthrottled)) func linksMadeInsideTheSandboxLeakNothing() async throws {
            let fixture = try HostFixture.current
            let host = fixture.host, client = fixture.client, sandboxes = fixture.sandboxes
            let sandbox = fixture.sandbox
            let files = FileClient(client: client, key: host.adminKey, sandbox: sandbox)
            _ = try await sandboxes.run(sandbox, "ln -s /etc/shadow shadow && ln -s / rootlink && ln -s /proc/self/root proc && ln -s ../../.. up && echo root-inside > mine.txt")
            let hostShadow = FileManager.default.contents(atPath: "/etc/shadow")
            for path in ["shadow", "rootlink/etc/passwd", "proc/etc/passwd", "up/etc/passwd", "rootlink", "proc"] {
                let read = try await files.read(path)
                #expect(read.status == .badRequest || read.status == .notFound, "read \(path): \(read.status)")
                #expect(!read.body.contains("root:"), "read \(path)")
                let listed = try await files.call(.get, "/files?path=\(path)")
                #expect(listed.status == .badRequest || listed.status == .notFound, "list \(path): \(listed.status)")
                let tree = try await files.call(.get, "/files/tree?path=\(path)")
                #expect(tree.status == .badRequest || tree.status == .notFound, "tree \(path): \(tree.status)")
            }
            // Search walks the workspace without following links.
            let search = try await files.call(.get, "/files/search?query=root")
            let matched = (search.json["matches"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
            #expect(matched == ["/workspace/mine.txt"])
            // Moving onto a path through a link is refused; onto the link itself replaces the link.
            let through = try await files.call(.post, "/files/move", body: ByteBuffer(string: #"{"from":"mine.txt","to":"rootlink/tmp/pwned.txt"}"#))
            #expect(through.status == .badRequest)
            #expect(!FileManager.default.fileExists(atPath: "/tmp/pwned.txt"))
            #expect(try await files.put("rootlink/tmp/pwned.txt", "x") == .badRequest)
            #expect(try await files.put("shadow", "replaced") == .badRequest, "a write through a link that leaves is refused")
            #expect(FileManager.default.contents(atPath: "/etc/shadow") == hostShadow)
            // The archive holds the links, not what they point at.
            let download = try await files.call(.get, "/download-archive?format=tar")
            #expect(download.status == .ok)
            #expect(!download.text.contains("root:x:0:0") && !download.text.contains("root:*:") && !download.text.contains("root:!"))
            #expect(download.text.contains("/etc/shadow") && download.text.contains("/proc/self/root"))
        }
    }
}
