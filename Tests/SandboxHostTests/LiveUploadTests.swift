import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

extension HeavySuites {
    /// Uploads against the real binary: a host killed mid-upload leaves no part of the file.
    @Suite(.enabled(if: runningAsRoot, "file routes need a sandbox, which needs root, as in CI"))
    struct LiveUploadTests {
        /// The size of the largest file the host process has open in its staging directory.
        static func stagedBytes(pid: Int32, dataDir: String) -> Int {
            let directory = "/proc/\(pid)/fd"
            var largest = 0
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
                guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + name),
                      target.contains("/.staging/") else { continue }
                var info = stat()
                if stat(directory + "/" + name, &info) == 0 { largest = max(largest, Int(info.st_size)) }
            }
            return largest
        }

        @Test func killDashNineDuringALargeUploadLeavesNoPartialFile() async throws {
            let dataDir = try TemporaryDirectory.make()
            defer { try? FileManager.default.removeItem(atPath: dataDir) }
            let host = try await HostProcess(dataDir: dataDir)
            let key = try host.adminKey
            let (project, sandbox) = try await host.createSandbox(key: key)
            let workspace = dataDir + "/workspaces/" + project + "/workspace"
            // An earlier version that must survive whole.
            _ = try await host.request(.PUT, "/api/sandboxes/\(sandbox)/files/content?path=big.bin", key: key, body: "old version")

            let total = 200 << 20
            let chunk = ByteBuffer(repeating: 0x5A, count: 1 << 20)
            let sent = Locked(0)
            let upload = Task {
                var request = HTTPClientRequest(url: host.baseURL + "/api/sandboxes/\(sandbox)/files/content?path=big.bin")
                request.method = .PUT
                request.headers.add(name: "Authorization", value: "Bearer \(key)")
                let body = AsyncStream<ByteBuffer> { continuation in
                    Task {
                        for _ in 0..<(total >> 20) {
                            continuation.yield(chunk)
                            sent.mutate { $0 += 1 << 20 }
                            try? await Task.sleep(for: .milliseconds(1))
                        }
                        continuation.finish()
                    }
                }
                request.body = .stream(body, length: .known(Int64(total)))
                return try await HTTPClient.shared.execute(request, timeout: .seconds(60)).status
            }
            // Killed once the host holds 40 MB of it in its (unnamed) staging file.
            let deadline = ContinuousClock.now + .seconds(60)
            while Self.stagedBytes(pid: host.process.processIdentifier, dataDir: dataDir) < 40 << 20 {
                try #require(ContinuousClock.now < deadline, "the upload never reached 40 MB")
                try await Task.sleep(for: .milliseconds(2))
            }
            try await host.stop(signal: SIGKILL)
            _ = await upload.result

            let restarted = try await HostProcess(dataDir: dataDir)
            defer { Task { try? await restarted.stop() } }
            let content = FileManager.default.contents(atPath: workspace + "/big.bin")
            #expect(content == Data("old version".utf8), "the file is the old version or the whole new one, never a part")
            #expect(try FileManager.default.contentsOfDirectory(atPath: workspace) == ["big.bin"], "no temp files in the workspace")
            // Staged on the project's own volume (it links into place there), emptied at start.
            #expect(try FileManager.default.contentsOfDirectory(atPath: dataDir + "/workspaces/" + project + "/.staging") == [], "no staging files")

            // And an upload that completes is there whole, read back through the API.
            let (status, _) = try await restarted.request(.PUT, "/api/sandboxes/\(sandbox)/files/content?path=big.bin", key: key, body: String(repeating: "n", count: 5 << 20))
            #expect(status == 200)
            #expect(FileManager.default.contents(atPath: workspace + "/big.bin")?.count == 5 << 20)
            try await restarted.stop()
        }
    }
}
