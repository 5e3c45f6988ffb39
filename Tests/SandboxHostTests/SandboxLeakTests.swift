import Foundation
import Testing
@testable import SandboxHost
@testable import SandboxRuntime

extension HeavySuites {
    /// Create/exec/delete cycles against the real binary leave its fds, children, the host's mount
    /// table and cgroups where they started. The host runs as its own process, so what other tests
    /// do in parallel does not blur its counts.
    @Suite(.enabled(if: runningAsRoot, "sandboxes need root, as in CI"))
    struct SandboxLeakTests {
        static func fdCount(_ pid: Int32) -> Int {
            ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count
        }

        static func childCount(_ pid: Int32) -> Int {
            let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
            return pids.filter { HostSnapshot.statFields($0).flatMap { $0.count > 2 ? Int32($0[1]) : nil } == pid }.count
        }

        @Test func twoHundredCyclesLeakNothing() async throws {
            let dataDir = try TemporaryDirectory.make()
            defer { try? FileManager.default.removeItem(atPath: dataDir) }
            let host = try await HostProcess(dataDir: dataDir, environment: ["SANDBOX_HOST_RATE_LIMIT": "0"])
            let key = try String(contentsOfFile: dataDir + "/admin.key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let pid = host.process.processIdentifier

            func cycle(_ index: Int) async throws {
                let (status, body) = try await host.request(.POST, "/api/projects", key: key, body: #"{"name":"cycle-\#(index)"}"#)
                #expect(status == 201)
                let project = try #require((try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["project_id"] as? String)
                let activated = try await host.request(.POST, "/api/project/\(project)/sandbox/ensure-active", key: key)
                #expect(activated.status == 200, "\(activated.body)")
                let sandbox = try #require((try JSONSerialization.jsonObject(with: Data(activated.body.utf8)) as? [String: Any])?["sandbox_id"] as? String)
                let exec = try await host.request(.POST, "/api/sandboxes/\(sandbox)/execute", key: key, body: #"{"command":"echo hi; sleep 1000 & true"}"#)
                #expect(exec.status == 200 && exec.body.contains("\"exit_code\":0"), "\(exec.body)")
                #expect(try await host.request(.DELETE, "/api/sandboxes/\(sandbox)", key: key).status == 200)
                #expect(try await host.request(.DELETE, "/api/projects/\(project)", key: key).status == 200)
            }

            // Warm up (thread pools, poller, caches) before taking the baseline.
            for index in 0..<5 { try await cycle(index) }
            let fds = Self.fdCount(pid), children = Self.childCount(pid)
            let mounts = HostSnapshot.mounts(own: dataDir), cgroups = HostSnapshot.cgroupDirectories(dataDir: dataDir)
            for index in 0..<200 { try await cycle(index) }
            #expect(Self.fdCount(pid) == fds, "host fds")
            #expect(Self.childCount(pid) == children, "host children")
            #expect(HostSnapshot.mounts(own: dataDir) == mounts, "host mount table")
            // Deleted projects' volumes are gone (the pool's ready images stay until shutdown).
            #expect(!MountTable.read().contains { $0.mountPoint.hasPrefix(dataDir + "/workspaces/") }, "project volumes left mounted")
            #expect(!LoopDevice.attached().contains { $0.backingFile.hasPrefix(dataDir + "/") && !$0.backingFile.hasPrefix(dataDir + "/disks/pool/") },
                    "loop devices left attached")
            #expect(HostSnapshot.cgroupDirectories(dataDir: dataDir) == cgroups, "cgroup directories")
            #expect(cgroups == 0)
            let left = (try? FileManager.default.contentsOfDirectory(atPath: dataDir + "/sandboxes")) ?? []
            #expect(left.isEmpty, "sandbox directories left: \(left.count)")
            try await host.stop()
            #expect(!MountTable.read().contains { $0.mountPoint.hasPrefix(dataDir + "/") }, "mounts left after shutdown")
            #expect(!LoopDevice.attached().contains { $0.backingFile.hasPrefix(dataDir + "/") }, "loop devices left after shutdown")
        }
    }
}

