import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost
@testable import SandboxRuntime

/// A second kind of image: a full root filesystem, here a tiny one made from Debian's busybox-static.
@Suite(.enabled(if: runningAsRoot && FileManager.default.fileExists(atPath: "/bin/busybox"), "needs root and busybox-static"))
struct ImageTests {
    /// A root filesystem of busybox and its applet links, as `busybox --install -s` would make.
    static func busyboxRootfs() throws -> String {
        let root = try TemporaryDirectory.make()
        try FileManager.default.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: root + "/bin/busybox")
        for applet in ["sh", "ls", "cat", "echo", "id", "ps", "uname", "mount", "touch", "wc", "grep", "sleep", "hostname"] {
            try FileManager.default.createSymbolicLink(atPath: root + "/bin/" + applet, withDestinationPath: "busybox")
        }
        try "root:x:0:0:root:/root:/bin/sh\n".write(toFile: root + "/etc/passwd", atomically: true, encoding: .utf8)
        try "busybox image\n".write(toFile: root + "/etc/motd", atomically: true, encoding: .utf8)
        return root
    }

    @Test(.testHost) func importedBusyboxImageRunsCommandsAndStaysUnchanged() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let rootfs = try Self.busyboxRootfs()
        defer { try? FileManager.default.removeItem(atPath: rootfs) }
        let info = try host.services.runtime.images.importImage(named: "busybox", from: rootfs)
        #expect(info.name == "busybox")
        #expect(host.services.runtime.images.list().map(\.name) == ["default", "busybox"])
        #expect(throws: RuntimeError.self) { try host.services.runtime.images.importImage(named: "busybox", from: rootfs) }
        #expect(throws: RuntimeError.self) { try host.services.runtime.images.importImage(named: "../evil", from: rootfs) }

        let key = host.adminKey
        let project = try await client.execute(
            uri: "/api/projects", method: .post, headers: .bearer(key),
            body: ByteBuffer(string: #"{"name":"tiny","image":"busybox"}"#)
        ) { response in
            #expect(response.status == .created, "\(response.text)")
            #expect(response.json["image"] as? String == "busybox")
            return try #require(response.json["project_id"] as? String)
        }
        let sandboxes = SandboxClient(client: client, key: key)
        let sandbox = try await sandboxes.ensureActive(project)
        #expect(try await sandboxes.run(sandbox, "cat /etc/motd; id -u; ls /usr/bin/python3 2>/dev/null || echo no-python") == "busybox image\n0\nno-python\n")
        #expect(try await sandboxes.run(sandbox, "echo changed > /etc/motd; cat /etc/motd") == "changed\n")
        #expect(try await sandboxes.get(sandbox).body["image"] as? String == "busybox")
        _ = try await sandboxes.delete(sandbox)
        // The sandbox wrote to its own layer; the imported image is as it was.
        #expect(try String(contentsOfFile: host.services.runtime.images.rootfs("busybox") + "/etc/motd", encoding: .utf8) == "busybox image\n")
    }

    @Test func cliImportsATarballAndListsIt() throws {
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let rootfs = try Self.busyboxRootfs()
        defer { try? FileManager.default.removeItem(atPath: rootfs) }
        let tarball = dataDir + "/busybox.tar.gz"
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/bin/tar")
        tar.arguments = ["-czf", tarball, "-C", rootfs, "."]
        try tar.run()
        tar.waitUntilExit()
        let imported = try HostProcess.command(["images", "import", "tiny", tarball, "--data-dir", dataDir])
        #expect(imported.status == 0, "\(imported.output)")
        #expect(FileManager.default.fileExists(atPath: dataDir + "/images/tiny/rootfs/bin/busybox"))
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: dataDir + "/images/tiny/rootfs/bin/sh")) == "busybox")
        let listed = try HostProcess.command(["images", "list", "--data-dir", dataDir])
        #expect(listed.output.contains("tiny") && listed.output.contains("default"))
        let refused = try HostProcess.command(["images", "import", "nosh", dataDir + "/nothing-here", "--data-dir", dataDir])
        #expect(refused.status != 0)
    }
}
