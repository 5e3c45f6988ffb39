import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost
@testable import SandboxRuntime

extension HeavySuites {
    /// The contract's Disk section: `disk_mb` bounds everything a sandbox can write, from inside
    /// and through the API, in bytes and in inodes; the host's own disk keeps a reserve.
    @Suite(.enabled(if: runningAsRoot, "sandboxes and loop devices need root, as in CI"))
    struct DiskLimitTests {
        /// Bytes the host's disk holds for everything under `directory` (st_blocks, on the data
        /// directory's own file system only: a project's image is counted once, not its contents).
        static func allocatedBytes(_ directory: String) -> Int64 {
            var root = stat()
            guard lstat(directory, &root) == 0 else { return 0 }
            var total: Int64 = 0
            let enumerator = FileManager.default.enumerator(atPath: directory)
            while let relative = enumerator?.nextObject() as? String {
                var info = stat()
                guard lstat(directory + "/" + relative, &info) == 0, info.st_dev == root.st_dev else { continue }
                total += Int64(info.st_blocks) * 512
            }
            return total
        }

        static func smallDisk(_ configuration: inout HostConfiguration) {
            configuration.rateLimitPerSecond = 0
            configuration.sandboxLimits.diskMB = 64
        }

        @Test(.hostWithSandbox(configure: Self.smallDisk)) func writesInsideStopAtTheBudgetInWorkspaceAndRootLayer() async throws {
            let fixture = try HostFixture.current
            let host = fixture.host, sandboxes = fixture.sandboxes
            let sandbox = fixture.sandbox
            let before = Self.allocatedBytes(host.directory)
            let workspace = try await sandboxes.exec(sandbox, "dd if=/dev/zero of=/workspace/big bs=1M count=200 2>&1; sync", timeout: 120)
            #expect((workspace["output"] as? String ?? "").contains("No space left"), "\(workspace)")
            let rootLayer = try await sandboxes.exec(sandbox, "rm -f /workspace/big; dd if=/dev/zero of=/root/big bs=1M count=200 2>&1; sync", timeout: 120)
            #expect((rootLayer["output"] as? String ?? "").contains("No space left"), "\(rootLayer)")
            let grown = Self.allocatedBytes(host.directory) - before
            #expect(grown <= 72 << 20, "the host's disk grew by \(grown >> 20) MiB for a 64 MiB budget")
        }

        @Test(.hostWithSandbox(configure: Self.smallDisk)) func inodesStopAtTheBudget() async throws {
            let fixture = try HostFixture.current
            let host = fixture.host, sandboxes = fixture.sandboxes
            let sandbox = fixture.sandbox
            // 64 MiB at 128 inodes per MiB: 8192 inodes. `true >` is the shell's own, no process
            // per file (and, unlike `:`, a failed redirection does not end the shell).
            let created = try await sandboxes.run(
                sandbox, "exec 2>/dev/null; mkdir /workspace/d && cd /workspace/d && i=0; while [ $i -lt 40000 ] && true > f$i; do i=$((i+1)); done; echo $i")
            let count = Int(created.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            #expect(count > 1000 && count <= 64 * host.configuration.diskInodesPerMB, "created \(count) files")
        }

        @Test(.hostWithSandbox(configure: Self.smallDisk)) func uploadsPastTheBudgetAnswer413AndWriteNothing() async throws {
            let fixture = try HostFixture.current
            let host = fixture.host, client = fixture.client, sandboxes = fixture.sandboxes
            let sandbox = fixture.sandbox
            let files = FileClient(client: client, key: host.adminKey, sandbox: sandbox)
            // Fill the budget from inside, leaving a few MiB at most.
            try await sandboxes.exec(sandbox, "dd if=/dev/zero of=/workspace/fill bs=1M count=200 2>/dev/null; sync", timeout: 120)
            let bytes = [UInt8](repeating: 7, count: 8 << 20)
            let put = try await files.call(.put, "/files/content?path=over.bin", body: ByteBuffer(bytes: bytes), contentType: "application/octet-stream")
            #expect(put.status == .contentTooLarge, "\(put.text)")
            #expect(put.json["code"] as? String == "PAYLOAD_TOO_LARGE")
            let multipart = try await files.multipart(path: "/workspace/up", files: [("over2.bin", bytes)])
            #expect(multipart.status == .contentTooLarge, "\(multipart.json)")
            let workspace = try await files.workspace(host)
            #expect(try FileManager.default.contentsOfDirectory(atPath: workspace).sorted() == ["fill"])
            let staging = host.services.workspaces.stagingPath(projectID: URL(fileURLWithPath: workspace).deletingLastPathComponent().lastPathComponent)
            #expect((try? FileManager.default.contentsOfDirectory(atPath: staging)) ?? [] == [])
            // Space given back is usable again.
            _ = try await sandboxes.run(sandbox, "rm /workspace/fill")
            #expect(try await files.put("ok.bin", bytes: bytes) == .ok)
        }

        /// A project's image costs the host what the sandbox writes, not its file system's
        /// inode tables: mkfs zeroing them (`lazy_itable_init=0`) allocated 32 MiB of a 1 GiB
        /// image (unwritten extents count on the host's disk), 32 GB for 1,000 projects.
        @Test(.hostWithSandbox { $0.rateLimitPerSecond = 0 }) func aNewProjectsImageHoldsLittleOfTheHostsDisk() async throws {
            let fixture = try HostFixture.current
            _ = try await fixture.sandboxes.run(fixture.sandbox, "echo hi > /workspace/a && sync")
            let volumes = try #require(fixture.host.services.workspaces.volumes)
            var info = stat()
            #expect(stat(volumes.imagePath(fixture.project), &info) == 0)
            #expect(info.st_size == 1024 << 20)
            let allocated = Int64(info.st_blocks) * 512
            #expect(allocated < 8 << 20, "a fresh 1 GiB image allocates \(allocated >> 20) MiB of the host's disk")
        }

        @Test(.hostWithSandbox(configure: Self.smallDisk)) func deletingAProjectUnmountsAndRemovesItsDisk() async throws {
            let fixture = try HostFixture.current
            let host = fixture.host, client = fixture.client, sandboxes = fixture.sandboxes
            let project = fixture.project, sandbox = fixture.sandbox
            _ = try await sandboxes.run(sandbox, "echo hi > /workspace/a")
            let volumes = try #require(host.services.workspaces.volumes)
            let image = volumes.imagePath(project)
            let mountPoint = volumes.mountPoint(project)
            #expect(MountTable.read().contains { $0.mountPoint == mountPoint && $0.fileSystem == "ext4" })
            #expect(LoopDevice.attached().contains { $0.backingFile == image })
            try await client.execute(uri: "/api/projects/\(project)", method: .delete, headers: .bearer(host.adminKey)) { response in
                #expect(response.status == .ok, "\(response.text)")
            }
            #expect(!MountTable.read().contains { $0.mountPoint.hasPrefix(mountPoint) })
            // LO_FLAGS_AUTOCLEAR detaches the device once the last unmount lets it go: soon, not at once.
            for _ in 0..<100 where LoopDevice.attached().contains(where: { $0.backingFile == image }) {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(!LoopDevice.attached().contains { $0.backingFile == image })
            #expect(!FileManager.default.fileExists(atPath: image))
            #expect(!FileManager.default.fileExists(atPath: mountPoint))
        }

        @Test(.hostWithSandbox(configure: Self.smallDisk)) func restartsKeepTheFilesOnTheirDisk() async throws {
            let fixture = try HostFixture.current
            let host = fixture.host, project = fixture.project
            _ = try await fixture.sandboxes.run(fixture.sandbox, "echo kept > /workspace/a && echo layer > /root/b")
            await host.services.runtime.stopAll()
            // A clean restart (unmounted, then mounted again) and a crash (left mounted, found and kept).
            for clean in [true, false] {
                if clean { host.services.workspaces.volumes?.unmountAll() }
                let opened = try DataDirectory.open(host.configuration)
                let services = try HostServices(configuration: host.configuration, database: opened.database)
                let volumes = try #require(services.workspaces.volumes)
                #expect(volumes.isMounted(project))
                #expect(MountTable.read().filter { $0.mountPoint == volumes.mountPoint(project) }.count == 1)
                let text = try String(contentsOfFile: services.workspaces.path(projectID: project) + "/a", encoding: .utf8)
                #expect(text == "kept\n")
                volumes.pool?.stop()
            }
        }

        @Test(.testHost(configure: Self.smallDisk)) func aStartSweepsTheVolumeOfAProjectThatIsGone() async throws {
            let fixture = try HostFixture.current
            let host = fixture.host, client = fixture.client
            let (kept, gone) = (try await createProject(client, key: host.adminKey, name: "kept"), try await createProject(client, key: host.adminKey, name: "gone"))
            let volumes = try #require(host.services.workspaces.volumes)
            #expect(volumes.isMounted(gone))
            // A crash between the row's delete and the volume's removal.
            _ = try host.services.database.runBlocking { try $0.run("DELETE FROM projects WHERE id = ?", [.text(gone)]) }
            let opened = try DataDirectory.open(host.configuration)
            let services = try HostServices(configuration: host.configuration, database: opened.database)
            services.workspaces.volumes?.pool?.stop()
            #expect(!MountTable.read().contains { $0.mountPoint == volumes.mountPoint(gone) })
            #expect(!LoopDevice.attached().contains { $0.backingFile == volumes.imagePath(gone) })
            #expect(!FileManager.default.fileExists(atPath: volumes.imagePath(gone)))
            #expect(!FileManager.default.fileExists(atPath: volumes.mountPoint(gone)))
            #expect(volumes.isMounted(kept))
        }

        @Test(.hostWithSandbox { configuration in
            Self.smallDisk(&configuration)
            configuration.diskReserveBytes = Int64.max / 2
        })
        func lowHostDiskAnswers507AndHealthSaysDegraded() async throws {
            let fixture = try HostFixture.current
            let host = fixture.host, client = fixture.client
            let sandbox = fixture.sandbox
            let files = FileClient(client: client, key: host.adminKey, sandbox: sandbox)
            let put = try await files.call(.put, "/files/content?path=a.txt", body: ByteBuffer(string: "hi"), contentType: "text/plain")
            #expect(put.status.code == 507)
            #expect(put.json["code"] as? String == "INSUFFICIENT_STORAGE")
            try await client.execute(uri: "/api/health/deep", method: .get) { response in
                let disk = (response.json["components"] as? [String: Any])?["disk"] as? [String: Any]
                #expect(disk?["status"] as? String == "degraded", "\(response.text)")
            }
        }
    }
}
