import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

extension HeavySuites {
    /// A preview of an app that listens but never accepts (its backlog full): connecting to it
    /// waits for the kernel's SYN retries (minutes). That wait must neither take the threads the
    /// API's SQLite queries run on nor last past the preview's connect timeout.
    @Suite("Preview connect", .serialized, .enabled(if: runningAsRoot, "sandboxes need root, as in CI"))
    struct PreviewBacklogTests {
        /// Listens with a backlog of 0 on 127.0.0.1, never accepts, and fills the queue itself.
        static let app = #"""
        import socket, sys, time
        port = int(sys.argv[1])
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen(0)
        fillers = []
        for _ in range(8):
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            client.setblocking(False)
            try:
                client.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fillers.append(client)
        print("backlog full", flush=True)
        time.sleep(3600)
        """#

        static func seconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        }

        /// Status and seconds of one request (status 0: it failed or ran out of time).
        static func timed(_ url: String, key: String, timeout: Int64) async -> (status: Int, seconds: Double) {
            let start = ContinuousClock.now
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Authorization", value: "Bearer \(key)")
            do {
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(timeout))
                _ = try await response.body.collect(upTo: 1 << 20)
                return (Int(response.status.code), seconds(ContinuousClock.now - start))
            } catch {
                return (0, seconds(ContinuousClock.now - start))
            }
        }

        @Test("previews hanging on a full backlog answer 504 within the connect timeout, and the API answers meanwhile")
        func fullBacklogDoesNotStallTheHost() async throws {
            let dataDir = try TemporaryDirectory.make()
            defer { try? FileManager.default.removeItem(atPath: dataDir) }
            let host = try await HostProcess(dataDir: dataDir, environment: ["SANDBOX_HOST_PREVIEW_CONNECT_TIMEOUT_MS": "3000"])
            defer { Task { try? await host.stop(signal: SIGKILL) } }
            let key = try host.adminKey
            let (_, sandbox) = try await host.createSandbox(key: key)
            try await PreviewTests.serve(host, key: key, sandbox: sandbox, app: Self.app, file: "backlog.py", command: "python3 backlog.py 7000", port: 7000)
            #expect(try await PreviewTests.previewURL(host, key: key, sandbox: sandbox, port: 7000) != "")
            // It listens first, then fills its backlog: wait until it says so.
            try await waitUntil("the app to fill its backlog") {
                try await host.request(.GET, "/api/sandboxes/\(sandbox)/sessions/dev_server_web/status", key: key).body.contains("backlog full")
            }

            let preview = "\(host.baseURL)/preview/\(sandbox)/7000/"
            let base = host.baseURL
            try await withThrowingTaskGroup(of: Void.self) { group in
                // More previews at once than the shared thread pool has threads.
                for _ in 0..<4 {
                    group.addTask {
                        let (status, seconds) = await Self.timed(preview, key: key, timeout: 20)
                        #expect(status == 504 || status == 502, "the preview answered \(status) after \(seconds) s")
                        #expect(seconds < 5.5, "the preview took \(seconds) s; the connect timeout is 3 s")
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .milliseconds(300))
                    for index in 0..<20 {
                        let path = index % 4 == 3 ? "/api/projects" : "/api/health"
                        let (status, seconds) = await Self.timed(base + path, key: key, timeout: 10)
                        #expect(status == 200, "\(path) answered \(status) after \(seconds) s while previews hang")
                        #expect(seconds < 1.0, "\(path) took \(seconds) s while previews hang")
                    }
                }
                try await group.waitForAll()
            }
            // A port nothing listens on is still refused at once, as before.
            let (refused, refusedSeconds) = await Self.timed("\(host.baseURL)/preview/\(sandbox)/7001/", key: key, timeout: 10)
            #expect(refused == 503)
            #expect(refusedSeconds < 1.0)
        }
    }
}
