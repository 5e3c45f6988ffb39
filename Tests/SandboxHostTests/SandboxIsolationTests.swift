import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOPosix
import Testing
@testable import SandboxHost

/// What a hostile command inside a sandbox can see and touch of the host and of other sandboxes.
@Suite(.enabled(if: runningAsRoot, "sandboxes need root, as in CI"))
struct SandboxIsolationTests {
    @Test(.hostWithSandbox) func processesOfTheHostAreInvisible() async throws {
        let fixture = try HostFixture.current
        let sandboxes = fixture.sandboxes
        let sandbox = fixture.sandbox
        let listing = try await sandboxes.run(sandbox, "ps -e -o pid=,comm=")
        let names = listing.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).last.map(String.init) ?? "" }
        #expect(Set(names).isSubset(of: ["sandbox-init", "sh", "ps"]), "\(listing)")
        // The host test process (this one) is not there, by pid or by name.
        #expect(!listing.contains("PackageTests"))
        let ids = try await sandboxes.run(sandbox, "cat /proc/self/uid_map")
        let fields = ids.split(whereSeparator: \.isWhitespace)
        #expect(fields.first == "0" && (UInt32(fields[1]) ?? 0) >= 1 << 20, "root inside is an unprivileged host uid: \(ids)")
        #expect(try await sandboxes.run(sandbox, "hostname") == "sandbox\n")
        _ = try await sandboxes.delete(sandbox)
    }

    @Test(.hostWithSandbox) func hostFilesDataDirAndDatabaseAreUnreachable() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, sandboxes = fixture.sandboxes
        let sandbox = fixture.sandbox
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("host-marker-\(UUID().uuidString)").path
        try "secret".write(toFile: marker, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let hostShadow = (try? String(contentsOfFile: "/etc/shadow", encoding: .utf8)) ?? ""
        for path in [marker, host.directory, host.configuration.databasePath, host.configuration.adminKeyPath, "/work", "/opt/swift", "/root/.bash_history"] {
            let result = try await sandboxes.exec(sandbox, "cat '\(path)' || ls -la '\(path)'")
            #expect(result["exit_code"] as? Int != 0, "\(path) is visible: \(result["output"] ?? "")")
        }
        let shadow = try await sandboxes.exec(sandbox, "cat /etc/shadow")
        let inside = shadow["stdout"] as? String ?? ""
        #expect(inside != hostShadow || hostShadow.isEmpty)
        #expect(!inside.contains("$"), "no password hash of the host")
        // (The mount table does name the host directories the sandbox's mounts come from; the
        // names give no access, as the checks above show.)
        // Absolute symlinks resolve inside the sandbox's root, never the host's.
        let link = try await sandboxes.exec(sandbox, "ln -sf '\(marker)' /workspace/escape && cat /workspace/escape")
        #expect(link["exit_code"] as? Int != 0)
        _ = try await sandboxes.delete(sandbox)
    }

    @Test(.hostWithSandbox) func theHostsLoopbackAndItsAPIPortAreUnreachable() async throws {
        let fixture = try HostFixture.current
        let sandboxes = fixture.sandboxes
        let sandbox = fixture.sandbox
        // A real listener on the host's loopback: the sandbox must not reach it.
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        defer { _ = listener.close() }
        let port = try #require(listener.localAddress?.port)
        let probe = "python3 -c \"import socket; socket.create_connection(('127.0.0.1', \(port)), timeout=2)\""
        let result = try await sandboxes.exec(sandbox, probe)
        #expect(result["exit_code"] as? Int != 0, "reached the host's 127.0.0.1:\(port)")
        #expect((result["stderr"] as? String ?? "").contains("refused"))
        let interfaces = try await sandboxes.run(sandbox, "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '")
        #expect(interfaces == "lo\n", "only loopback: \(interfaces)")
        // Its own loopback works: a server inside is reachable from inside.
        let own = try await sandboxes.exec(sandbox, """
            python3 -c "
            import socket, threading
            s = socket.socket(); s.bind(('127.0.0.1', 80)); s.listen()
            threading.Thread(target=lambda: s.accept()[0].sendall(b'hi'), daemon=True).start()
            c = socket.create_connection(('127.0.0.1', 80)); print(c.recv(2).decode())
            "
            """)
        #expect(own["stdout"] as? String == "hi\n", "\(own["output"] ?? "")")
        _ = try await sandboxes.delete(sandbox)
    }

    @Test(.testHost) func mountMknodAndSysrqChangeNothing() async throws {
        let fixture = try HostFixture.current
        let mountsBefore = HostSnapshot.mounts(own: fixture.host.directory)
        let sandboxes = fixture.sandboxes
        let (_, sandbox) = try await sandboxes.create()
        for command in [
            "mount -t proc proc /mnt", "mount --bind / /mnt", "umount /proc", "umount -l /workspace",
            "mknod /tmp/sda b 8 0", "mknod /tmp/mem c 1 1", "echo b > /proc/sysrq-trigger",
            "echo 1 > /proc/sys/kernel/sysrq", "hostname evil", "ip link set lo down || ifconfig lo down",
            "mount -t tmpfs none /tmp", "unshare -m true && unshare -m mount -t proc proc /mnt && ls /mnt/1/root/work",
        ] {
            let result = try await sandboxes.exec(sandbox, command)
            #expect(result["exit_code"] as? Int != 0, "\(command) succeeded: \(result["output"] ?? "")")
        }
        #expect(try await sandboxes.run(sandbox, "hostname") == "sandbox\n")
        #expect(try await sandboxes.run(sandbox, "ls /proc/1/ | head -1").isEmpty == false)
        _ = try await sandboxes.delete(sandbox)
        #expect(HostSnapshot.mounts(own: fixture.host.directory) == mountsBefore)
    }

    @Test(.testHost) func killAllInsideKillsOnlyTheSandbox() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let sandboxes = SandboxClient(client: client, key: host.adminKey)
        let (_, first) = try await sandboxes.create(name: "first")
        let (_, second) = try await sandboxes.create(name: "second")
        _ = try await sandboxes.exec(second, "nohup sleep 1000 >/dev/null 2>&1 &")
        let bystander = Process()
        bystander.executableURL = URL(fileURLWithPath: "/bin/sleep")
        bystander.arguments = ["30"]
        try bystander.run()
        defer { bystander.terminate() }
        _ = try await sandboxes.exec(first, "sleep 1000 & kill -9 -1; sleep 0.2; true")
        #expect(bystander.isRunning, "a host process survives kill -9 -1 inside a sandbox")
        #expect(try await sandboxes.run(second, "pgrep -c sleep") == "1\n", "the other sandbox's process survives")
        // The sandbox itself survives its processes: PID 1 ignores the signal.
        #expect(try await sandboxes.run(first, "echo alive") == "alive\n")
        try await client.execute(uri: "/api/health", method: .get) { #expect($0.status == .ok) }
        _ = try await sandboxes.delete(first)
        _ = try await sandboxes.delete(second)
    }

    @Test(.testHost) func anotherSandboxsFilesAndPortsAreUnreachable() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let sandboxes = SandboxClient(client: client, key: host.adminKey)
        let (projectA, a) = try await sandboxes.create(name: "a")
        let (_, b) = try await sandboxes.create(name: "b")
        _ = try await sandboxes.run(a, "echo secret-of-a > /workspace/secret && (nohup python3 -m http.server 8080 >/dev/null 2>&1 &)")
        // Wait (up to 10 s on a loaded machine) until the server answers inside its own sandbox.
        let fetch = """
            python3 -c "
            import time, urllib.request
            for _ in range(100):
                try:
                    print(urllib.request.urlopen('http://127.0.0.1:8080/secret').read().decode()); break
                except OSError:
                    time.sleep(0.1)
            "
            """
        #expect(try await sandboxes.run(a, fetch) == "secret-of-a\n\n")
        let viaPort = try await sandboxes.exec(b, "python3 -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/secret', timeout=2)\"")
        #expect(viaPort["exit_code"] as? Int != 0)
        let hostPath = host.services.workspaces.path(projectID: projectA) + "/secret"
        let viaPath = try await sandboxes.exec(b, "cat '\(hostPath)'; grep -rs secret-of-a /workspace /tmp /root /home /var /run /mnt | head -1")
        #expect(!(viaPath["stdout"] as? String ?? "").contains("secret-of-a"))
        let idsA = try await sandboxes.run(a, "cat /proc/self/uid_map")
        let idsB = try await sandboxes.run(b, "cat /proc/self/uid_map")
        #expect(idsA != idsB, "each sandbox has its own host uid range")
        _ = try await sandboxes.delete(a)
        _ = try await sandboxes.delete(b)
    }
}
