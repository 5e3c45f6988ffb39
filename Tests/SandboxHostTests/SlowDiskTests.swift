import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

extension HeavySuites {
    /// A disk that stops answering holds up the requests that write to it, and nothing else: the
    /// host's two cooperative threads, which run every handler, never wait for a file system.
    @Suite(.enabled(if: runningAsRoot, "project volumes and sandboxes need root, as in CI"))
    struct SlowDiskTests {
        /// Threads of process `pid` asleep in the kernel without interruption (state `D`): what
        /// a write to a frozen file system waits in.
        static func threadsInDiskSleep(_ pid: Int32) -> Int {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            return tasks.filter { tid in
                guard let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/stat", encoding: .utf8),
                      let close = stat.lastIndex(of: ")") else { return false }
                return stat[stat.index(close, offsetBy: 2)...].hasPrefix("D")
            }.count
        }

        /// One request with a deadline; answers its status and how long it took in milliseconds.
        static func timed(_ request: HTTPClientRequest) async throws -> (status: UInt, milliseconds: Double) {
            let start = ContinuousClock.now
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(2))
            _ = try await response.body.collect(upTo: 1 << 20)
            let elapsed = ContinuousClock.now - start
            return (response.status.code, Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
        }

        @Test func uploadsHeldByAFrozenVolumeHoldUpNeitherHealthNorExecute() async throws {
            let dataDir = try TemporaryDirectory.make()
            defer { try? FileManager.default.removeItem(atPath: dataDir) }
            let host = try await HostProcess(dataDir: dataDir)
            let key = try host.adminKey
            do {
                let (frozenProject, frozenSandbox) = try await host.createSandbox(key: key, name: "frozen")
                let (_, sandbox) = try await host.createSandbox(key: key, name: "busy")
                var execute = HTTPClientRequest(url: host.baseURL + "/api/sandboxes/\(sandbox)/execute")
                execute.method = .POST
                execute.headers.add(name: "Authorization", value: "Bearer \(key)")
                execute.headers.add(name: "Content-Type", value: "application/json")
                execute.body = .bytes(ByteBuffer(string: #"{"command":"echo ok"}"#))
                let health = HTTPClientRequest(url: host.baseURL + "/api/health")
                var list = HTTPClientRequest(url: host.baseURL + "/api/sandboxes/\(sandbox)/files")
                list.headers.add(name: "Authorization", value: "Bearer \(key)")
                #expect(try await Self.timed(execute).status == 200)

                // The frozen project's volume (its own ext4 on a loop device): every write into it
                // waits in the kernel until it is thawed. Thawed whatever happens below.
                let volume = dataDir + "/workspaces/" + frozenProject
                let frozen = try Subprocess.run("/usr/sbin/fsfreeze", ["-f", volume])
                try #require(frozen.status == 0, "fsfreeze: \(String(decoding: frozen.output, as: UTF8.self))")
                var thawed = false
                defer { if !thawed { _ = try? Subprocess.run("/usr/sbin/fsfreeze", ["-u", volume]) } }

                // More held uploads than the cooperative pool has threads (two here).
                let content = String(repeating: "z", count: 1 << 20)
                let uploads = (0..<3).map { index in
                    Task { try await host.request(.PUT, "/api/sandboxes/\(frozenSandbox)/files/content?path=held-\(index).txt", key: key, body: content) }
                }
                let pid = host.process.processIdentifier
                let deadline = ContinuousClock.now + .seconds(10)
                while Self.threadsInDiskSleep(pid) < 2 {
                    try #require(ContinuousClock.now < deadline, "the uploads never reached the frozen volume")
                    try await Task.sleep(for: .milliseconds(10))
                }

                var slowest = (health: 0.0, execute: 0.0, list: 0.0)
                for _ in 0..<50 {
                    let answered = try await Self.timed(health)
                    #expect(answered.status == 200)
                    slowest.health = max(slowest.health, answered.milliseconds)
                    let executed = try await Self.timed(execute)
                    #expect(executed.status == 200)
                    slowest.execute = max(slowest.execute, executed.milliseconds)
                    // Another project's file route: the held uploads do not fill the thread pool it uses.
                    let listed = try await Self.timed(list)
                    #expect(listed.status == 200)
                    slowest.list = max(slowest.list, listed.milliseconds)
                }
                print("SlowDiskTests: slowest of 50 each while held: health \(slowest.health) ms, execute \(slowest.execute) ms, another project's file list \(slowest.list) ms")
                #expect(slowest.health < 100, "the slowest health check took \(slowest.health) ms")
                #expect(slowest.execute < 100, "the slowest execute took \(slowest.execute) ms")
                #expect(slowest.list < 100, "the slowest file list of another project took \(slowest.list) ms")
                // The deep check too (a fresh runtime probe and the data disk's free space, for the
                // admin): neither waits behind the shared thread pool the held uploads fill.
                var deep = HTTPClientRequest(url: host.baseURL + "/api/health/deep")
                deep.headers.add(name: "Authorization", value: "Bearer \(key)")
                let deepAnswer = try await Self.timed(deep)
                #expect([200, 503].contains(deepAnswer.status), "deep health: \(deepAnswer.status)")
                #expect(Self.threadsInDiskSleep(pid) >= 2, "the uploads were still held while the others answered")

                // Thawed, the held uploads finish, whole.
                let thaw = try Subprocess.run("/usr/sbin/fsfreeze", ["-u", volume])
                thawed = thaw.status == 0
                #expect(thawed)
                for (index, upload) in uploads.enumerated() {
                    #expect(try await upload.value.status == 200)
                    let written = FileManager.default.contents(atPath: volume + "/workspace/held-\(index).txt")
                    #expect(written?.count == 1 << 20)
                }
            } catch {
                _ = try? await host.stop()
                throw error
            }
            try await host.stop()
        }
    }
}
