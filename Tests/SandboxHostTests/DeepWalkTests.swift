import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost
#if canImport(Glibc)
import Glibc
#endif

extension HeavySuites {
/// Walks of hostile trees (issue 14, items 3 and 5): a 20,000-level chain of directories must not
/// take the host's descriptors or its stack, a download the client stops reading must be closed,
/// and a search must be linear and bounded. Against the real binary: what is measured is the
/// host process's own descriptors and its survival.
@Suite(.serialized, .enabled(if: runningAsRoot, "file routes need a sandbox, which needs root, as in CI"))
struct DeepWalkTests {
    static let chainLevels = 20_000

    /// Runs `body` with a host that has one sandbox (the host, the key, the sandbox id and the
    /// workspace directory); the host is stopped afterwards whatever happened (a search stuck in
    /// a quadratic scan would otherwise keep a core busy for half an hour).
    static func withHost(
        _ environment: [String: String] = [:], _ body: (HostProcess, String, String, String) async throws -> Void
    ) async throws {
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let host = try await HostProcess(dataDir: dataDir, environment: ["SANDBOX_HOST_RATE_LIMIT": "0"].merging(environment) { $1 })
        var workspace: String?
        do {
            let key = try host.adminKey
            let (project, sandbox) = try await host.createSandbox(key: key)
            workspace = dataDir + "/workspaces/" + project + "/workspace"
            try await body(host, key, sandbox, dataDir + "/workspaces/" + project + "/workspace")
        } catch {
            if host.process.isRunning { _ = try? await host.stop(signal: SIGKILL) }
            if let workspace { DeepChain.remove(in: workspace) }
            throw error
        }
        if let workspace { DeepChain.remove(in: workspace) }
        if host.process.isRunning { try await host.stop() }
    }

    static func count(_ needle: String, in text: String) -> Int {
        text.components(separatedBy: needle).count - 1
    }

    @Test func treeOfATwentyThousandLevelChainIsCappedAndTheHostStaysUp() async throws {
        try await Self.withHost() { host, key, sandbox, workspace in
            try DeepChain.make(in: workspace, levels: Self.chainLevels, files: [300: ("deep.txt", Array("x".utf8))])
            for _ in 0..<3 {
                let started = ContinuousClock.now
                let tree = try await host.request(.GET, "/api/sandboxes/\(sandbox)/files/tree", key: key)
                print("tree of a \(Self.chainLevels)-level chain: \(tree.body.utf8.count) bytes in \(ContinuousClock.now - started)")
                #expect(tree.status == 200)
                let (truncated, deep) = (tree.body.contains("\"truncated\":true"), tree.body.contains("deep.txt"))
                #expect(truncated)
                #expect(!deep, "an entry 300 levels down is past the cap")
                // Levels 1…256 are listed; the directory at 256 is not opened.
                let opened = Self.count("\"children\":", in: tree.body)
                #expect(opened == 255)
                #expect(host.process.isRunning, "the host died building the tree: \(host.log.suffix(2000))")
            }
            #expect(try await host.request(.GET, "/api/health", key: nil).status == 200)
        }
    }

    /// The peak resident memory (`VmHWM`) of process `pid`, in bytes.
    static func peakMemory(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1) * 1024
    }

    /// Issue 14, item 4: every upload and PUT counts the workspace's usage by a walk with no depth
    /// cap; a walk that kept each level's full path held ~2.5 GB at the bottom of a 50,000-level
    /// chain of one-letter directories. The host's peak memory must barely move.
    @Test func usageOfAFiftyThousandLevelChainTakesLittleMemory() async throws {
        try await Self.withHost() { host, key, sandbox, workspace in
            try DeepChain.make(in: workspace, levels: 50_000)
            #expect(try await host.request(.GET, "/api/health", key: nil).status == 200)
            let pid = host.process.processIdentifier
            let before = Self.peakMemory(pid)
            let started = ContinuousClock.now
            for index in 0..<2 {
                let put = try await host.requestBytes(
                    .PUT, "/api/sandboxes/\(sandbox)/files/content?path=/workspace/top\(index).txt", key: key, body: Array("x".utf8))
                #expect(put.status == 200, "\(put.body.prefix(500))")
            }
            let after = Self.peakMemory(pid)
            print("usage of a 50,000-level chain, twice: peak memory \(before >> 20) MiB before, \(after >> 20) MiB after, \(ContinuousClock.now - started)")
            #expect(before > 0)
            #expect(after - before < 100 << 20, "the usage walk took \((after - before) >> 20) MiB")
            #expect(host.process.isRunning)
        }
    }

    /// Opens a connection, asks for `path` and never reads the answer.
    static func stalledRequest(port: Int, path: String, key: String) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HostProcessError("socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(fd); throw HostProcessError("connect: errno \(errno)") }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(key)\r\n\r\n".utf8)
        guard send(fd, request, request.count, 0) == request.count else { close(fd); throw HostProcessError("send: errno \(errno)") }
        return fd
    }

    /// Reads `fd` until the peer closes it; false if it is still open after `timeout`.
    static func drainsToEnd(_ fd: Int32, timeout: Duration) -> Bool {
        var tv = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count == 0 || (count < 0 && errno != EAGAIN && errno != EINTR) { return true }
        }
        return false
    }

    @Test func aStalledDownloadOfADeepChainHoldsFewDescriptorsAndIsClosedAfterTheWriteTimeout() async throws {
        try await Self.withHost(["SANDBOX_HOST_DOWNLOAD_WRITE_TIMEOUT": "3"]) { host, key, sandbox, workspace in
            try DeepChain.make(in: workspace, levels: Self.chainLevels)
            // More than every socket buffer holds, and incompressible: the download stalls for sure.
            let random = try #require(FileHandle(forReadingAtPath: "/dev/urandom")).readData(ofLength: 16 << 20)
            try random.write(to: URL(fileURLWithPath: workspace + "/top.bin"))
            #expect(try await host.request(.GET, "/api/health", key: nil).status == 200)
            let pid = host.process.processIdentifier
            let before = DeepChain.openDescriptors(pid)

            let connection = try Self.stalledRequest(port: host.port, path: "/api/sandboxes/\(sandbox)/download-archive?format=tar.gz", key: key)
            defer { close(connection) }
            let sent = ContinuousClock.now
            var most = before
            let watch = ContinuousClock.now + .seconds(2)
            while ContinuousClock.now < watch {
                most = max(most, DeepChain.openDescriptors(pid))
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(most < before + 1_000, "a stalled download holds \(most - before) descriptors")
            let health = try await host.request(.GET, "/api/health", key: nil)
            #expect(health.status == 200, "health during a stalled download")
            #expect(host.process.isRunning)

            // After the write timeout (3 s) the connection is closed and everything it held is
            // released, without the client reading a byte more (reading would let it go on).
            try await Task.sleep(until: sent + .seconds(5))
            var after = DeepChain.openDescriptors(pid)
            for _ in 0..<100 where after > before + 1 {
                try await Task.sleep(for: .milliseconds(100))
                after = DeepChain.openDescriptors(pid)
            }
            print("stalled download: \(before) descriptors before, at most \(most) during the stall, \(after) after the write timeout")
            #expect(most > before, "the download never started")
            #expect(after <= before + 1, "descriptors before \(before), during the stall \(most), after the timeout \(after)")
            #expect(Self.drainsToEnd(connection, timeout: .seconds(10)), "the stalled connection was never closed")
            #expect(try await host.request(.GET, "/api/health", key: nil).status == 200)
        }
    }

    @Test func searchOfFourMegabytesOfNewlinesIsLinear() async throws {
        try await Self.withHost() { host, key, sandbox, workspace in
            let lines = 4_000_000
            try (Data(repeating: 10, count: lines) + Data("the needle\n".utf8)).write(to: URL(fileURLWithPath: workspace + "/newlines.txt"))
            let started = ContinuousClock.now
            let found = try await host.request(.GET, "/api/sandboxes/\(sandbox)/files/search?query=needle", key: key)
            let elapsed = ContinuousClock.now - started
            #expect(found.status == 200)
            #expect(found.body.contains("\"line\":\(lines + 1)"), "\(found.body.prefix(500))")
            #expect(found.body.contains("\"truncated\":false"))
            #expect(elapsed < .seconds(3), "search took \(elapsed)")
        }
    }

    @Test func searchStopsAtItsByteBudgetAndSaysSo() async throws {
        try await Self.withHost(["SANDBOX_HOST_SEARCH_MAX_BYTES": "1000000"]) { host, key, sandbox, workspace in
            for index in 0..<5 {
                try (Data(repeating: UInt8(ascii: "a"), count: 600_000) + Data("\nneedle\n".utf8))
                    .write(to: URL(fileURLWithPath: workspace + "/file\(index).txt"))
            }
            let found = try await host.request(.GET, "/api/sandboxes/\(sandbox)/files/search?query=needle", key: key)
            #expect(found.status == 200)
            #expect(found.body.contains("\"truncated\":true"), "\(found.body.prefix(500))")
            #expect(Self.count("\"path\":", in: found.body) < 5)
        }
    }

    @Test func searchStopsAtItsTimeBudgetAndSaysSo() async throws {
        try await Self.withHost(["SANDBOX_HOST_SEARCH_TIME_BUDGET_MS": "0"]) { host, key, sandbox, workspace in
            try Data("needle\n".utf8).write(to: URL(fileURLWithPath: workspace + "/a.txt"))
            let found = try await host.request(.GET, "/api/sandboxes/\(sandbox)/files/search?query=needle", key: key)
            #expect(found.status == 200)
            #expect(found.body.contains("\"truncated\":true"), "\(found.body.prefix(500))")
        }
    }

    /// The cap is the contract's 256 levels in tree, search and download alike.
    @Test(.hostWithSandbox(configure: unthrottled)) func depthIsCappedAtTwoHundredFiftySixLevelsInTreeSearchAndDownload() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let sandbox = fixture.sandbox
        let files = FileClient(client: client, key: host.adminKey, sandbox: sandbox)
        let workspace = try await files.workspace(host)
        try DeepChain.make(in: workspace, levels: 310, files: [
            10: ("shallow.txt", Array("needle\n".utf8)), 256: ("edge.txt", Array("needle\n".utf8)),
            257: ("over.txt", Array("needle\n".utf8)), 300: ("deep.txt", Array("needle\n".utf8)),
        ])
        defer { DeepChain.remove(in: workspace) }

        let tree = try await files.call(.get, "/files/tree")
        #expect(tree.status == .ok)
        let (truncated, edge, over, deep) = (
            tree.text.contains("\"truncated\":true"), tree.text.contains("edge.txt"), tree.text.contains("over.txt"),
            tree.text.contains("deep.txt"))
        #expect(truncated && edge && !over && !deep)
        // A depth asked for below the cap cuts nothing the client did not ask to cut.
        let shallow = try await files.call(.get, "/files/tree?depth=3").text.contains("\"truncated\":false")
        #expect(shallow)

        let search = try await files.call(.get, "/files/search?query=needle")
        #expect(search.status == .ok)
        let paths = (search.json["matches"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
        #expect(Set(paths.map { $0.split(separator: "/").last.map(String.init) ?? "" }) == ["shallow.txt", "edge.txt"])
        #expect(search.json["truncated"] as? Bool == true)

        let archive = try await client.execute(
            uri: files.base + "/download-archive?format=tar", method: .get, headers: .bearer(host.adminKey)
        ) { Data(buffer: $0.body) }
        let listing = try Self.listTar(archive)
        let names = listing.map { $0.split(separator: "/").last.map(String.init) ?? "" }
        #expect(names.contains("shallow.txt") && names.contains("edge.txt"))
        #expect(!names.contains("over.txt") && !names.contains("deep.txt"))
        #expect(listing.map { $0.split(separator: "/").count }.max() == 256)
    }

    /// Issue 14, item 7: a lookup holds a descriptor per level it is down, levels added by links
    /// included (40 hops of 2,047 components would hold 80,000). Beyond 512 levels it is refused
    /// with 400, whether the levels are written out or come from links; below, it works.
    @Test(.hostWithSandbox(configure: unthrottled)) func lookupsDeeperThanFiveHundredTwelveLevelsAreRefused() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let sandbox = fixture.sandbox
        let files = FileClient(client: client, key: host.adminKey, sandbox: sandbox)
        let workspace = try await files.workspace(host)
        try DeepChain.make(in: workspace, levels: 700)
        defer { DeepChain.remove(in: workspace) }
        func chain(_ levels: Int) -> String { Array(repeating: "d", count: levels).joined(separator: "/") }
        // /workspace/l → d×300, and d×300/m → d×300 (relative): l/m is 600 levels down.
        #expect(symlink(chain(300), workspace + "/l") == 0)
        #expect(symlink(chain(300), workspace + "/" + chain(300) + "/m") == 0)

        for (path, status) in [
            (chain(500), HTTPResponse.Status.ok), (chain(600), .badRequest), ("l/m", .badRequest), ("l/" + chain(200), .ok),
        ] {
            let listed = try await files.call(.get, "/files?path=/workspace/\(path)")
            #expect(listed.status == status, "\(path.prefix(40))… (\(path.count) bytes): \(listed.text.prefix(300))")
        }
        let put = try await files.call(.put, "/files/content?path=/workspace/l/m/x.txt", body: ByteBuffer(string: "x"))
        #expect(put.status == .badRequest)
    }

    /// The entry names of a tar archive, as `tar -t` lists them.
    static func listTar(_ archive: Data) throws -> [String] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("deep-\(UUID().uuidString).tar")
        try archive.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let (status, output) = try Subprocess.run("/usr/bin/tar", ["-tf", file.path], mergeStandardError: false)
        guard status == 0 else { throw HostProcessError("tar -t failed: \(status)") }
        return String(decoding: output, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}
}
