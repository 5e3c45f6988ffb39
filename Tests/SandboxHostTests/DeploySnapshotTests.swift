import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing
@testable import SandboxHost
#if canImport(Glibc)
import Glibc
#endif

/// Issue 14 (follow-up), item 1: a deployment commits a host-only snapshot of the workspace, not
/// the live tree. git walks a work tree by path and follows a directory that became a link
/// meanwhile, so a sandbox that keeps swapping a directory for a link to a host directory while
/// the tenant deploys would have git commit (and push away) host files. The snapshot is a
/// bounded, fd-relative copy: sizes, entries, depth and time are capped, sparse files stay sparse.
@Suite(.serialized, .enabled(if: runningAsRoot, "deployments build in a sandbox, which needs root, as in CI"))
struct DeploySnapshotTests {
    static func post(_ client: any TestClientProtocol, _ key: String, _ project: String, _ body: [String: Any]) async throws -> (HTTPResponse.Status, [String: Any]) {
        let data = try JSONSerialization.data(withJSONObject: body)
        return try await client.execute(uri: "/api/project/\(project)/deploy/git", method: .post, headers: .bearer(key), body: ByteBuffer(data: data)) {
            ($0.status, $0.json)
        }
    }

    /// Everything any commit of `gitDir` ever held, as text.
    static func history(_ gitDir: String) -> String {
        (try? DeployTests.git(["--git-dir", gitDir, "log", "--all", "-p", "--binary"])) ?? ""
    }

    private typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32

    /// `renameat2(…, RENAME_EXCHANGE)` (glibc has it; Swift's Glibc module does not show it).
    static func exchange(_ first: String, _ second: String) -> Bool {
        guard let symbol = dlsym(nil, "renameat2") else { return false }
        let call = unsafeBitCast(symbol, to: RenameAt2.self)
        return call(AT_FDCWD, first, AT_FDCWD, second, 2 /* RENAME_EXCHANGE */) == 0
    }

    /// Makes a file of `size` bytes that are all a hole.
    static func sparse(_ path: String, _ size: Int64) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        defer { close(fd) }
        return fd >= 0 && ftruncate(fd, off_t(size)) == 0
    }

    /// Staging directories a deployment left behind.
    static func leftovers(_ dataDir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dataDir + "/staging")) ?? []).filter { $0.hasPrefix("deploy-") }
    }

    @Test func aDirectorySwappedForALinkToTheHostNeverPutsHostFilesInACommit() async throws {
        let scratch = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let secret = "canary-secret-\(UUID().uuidString)"
        // The canary directory stands for a host directory; it has the names the workspace's `d`
        // has, so git finds every file it listed whichever of the two `d` is at the moment.
        try FileManager.default.createDirectory(atPath: scratch + "/canary", withIntermediateDirectories: true)
        try (secret + "\n").write(toFile: scratch + "/canary/canary.txt", atomically: true, encoding: .utf8)
        for index in 0..<50 { try "host \(index)\n".write(toFile: scratch + "/canary/f\(index).txt", atomically: true, encoding: .utf8) }
        try DeployTests.git(["init", "--quiet", "--bare", scratch + "/repos/site.git"])
        let host = try TestHost.unthrottled { $0.deployAllowedRemotes = [scratch + "/repos/"] }
        defer { host.remove() }
        try await host.test { client in
            let (project, sandbox) = try await SandboxClient(client: client, key: host.adminKey).create(name: "swapper")
            let files = FileClient(client: client, key: host.adminKey, sandbox: sandbox)
            let workspace = try await files.workspace(host)
            #expect(try await files.put("index.html", "<h1>hi</h1>\n") == .ok)
            for index in 0..<50 { #expect(try await files.put("d/f\(index).txt", "decoy \(index)\n") == .ok) }
            #expect(try await files.put("d/canary.txt", "harmless\n") == .ok)
            for index in 0..<500 { #expect(try await files.put("pad/p\(index).txt", "pad \(index)\n") == .ok) }
            #expect(symlink(scratch + "/canary", workspace + "/d.other") == 0)
            // What the sandbox would do: exchange `d` and `d.other` (the directory and the link)
            // over and over, atomically, so both names always exist.
            let stop = Atomic<Bool>(false)
            let swaps = Atomic<Int>(0)
            let swapper = Thread {
                while !stop.load(ordering: .relaxed) {
                    if Self.exchange(workspace + "/d", workspace + "/d.other") {
                        swaps.add(1, ordering: .relaxed)
                    }
                    usleep(100)
                }
            }
            swapper.start()
            defer { stop.store(true, ordering: .relaxed) }
            let started = ContinuousClock.now
            var deploys = 0
            var leaked = false
            while deploys < 20, ContinuousClock.now - started < .seconds(15), !leaked {
                let (status, body) = try await Self.post(client, host.adminKey, project, ["remote_url": scratch + "/repos/site.git"])
                #expect(status == .ok, "\(body)")
                deploys += 1
                leaked = Self.history(scratch + "/repos/site.git").contains(secret)
                    || Self.history(host.configuration.dataDir + "/deploy/\(project)/repo.git").contains(secret)
            }
            stop.store(true, ordering: .relaxed)
            print("swap race: \(deploys) deploys in \(ContinuousClock.now - started), \(swaps.load(ordering: .relaxed)) swaps, leaked: \(leaked)")
            #expect(!leaked, "a host file was committed through the swapped directory")
            #expect(Self.history(host.configuration.dataDir + "/deploy/\(project)/repo.git").contains("pad 499"), "the workspace itself was committed")
            #expect(Self.leftovers(host.configuration.dataDir).isEmpty)
        }
    }

    /// A 1 TiB sparse file is refused (413) at once, without reading or writing a terabyte; a
    /// 256 MiB sparse file is published and stays sparse in the served site.
    @Test(.testHost(configure: unthrottled)) func sparseFilesAreCopiedSparseAndAHugeOneIsRefused() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let (project, sandbox) = try await SandboxClient(client: client, key: host.adminKey).create(name: "sparse")
        let files = FileClient(client: client, key: host.adminKey, sandbox: sandbox)
        let workspace = try await files.workspace(host)
        #expect(try await files.put("site/index.html", "<h1>sparse</h1>\n") == .ok)
        #expect(Self.sparse(workspace + "/site/hole.bin", 256 << 20))
        var started = ContinuousClock.now
        let (status, body) = try await Self.post(client, host.adminKey, project, ["output_dir": "site"])
        print("256 MiB sparse file deployed in \(ContinuousClock.now - started)")
        #expect(status == .ok && body["status"] as? String == "deployed", "\(status) \(body)")
        let id = try #require(body["deployment_id"] as? String)
        let site = host.configuration.dataDir + "/deploy/\(project)/sites/\(id)"
        var info = stat()
        #expect(stat(site + "/hole.bin", &info) == 0)
        #expect(info.st_size == 256 << 20)
        #expect(info.st_blocks * 512 < 1 << 20, "the site's copy is not sparse: \(info.st_blocks * 512) bytes on disk")

        #expect(Self.sparse(workspace + "/site/huge.bin", 1 << 40))
        started = ContinuousClock.now
        let (refused, answer) = try await Self.post(client, host.adminKey, project, ["output_dir": "site"])
        let took = ContinuousClock.now - started
        print("1 TiB sparse file refused in \(took): \(refused) \(answer)")
        #expect(refused == .contentTooLarge, "\(refused) \(answer)")
        #expect(took < .seconds(30))
        #expect(Self.leftovers(host.configuration.dataDir).isEmpty)
        let live = try await client.execute(uri: "/api/project/\(project)/deployment/live-status", method: .get, headers: .bearer(host.adminKey)) { $0.json }
        #expect(live["state"] as? String == "failed", "\(live)")
    }

    /// A 20,000-level chain of directories: the deployment is refused (400, past the 256-level
    /// cap) quickly, the host keeps few descriptors and answers.
    @Test(.testHost(configure: unthrottled)) func aTwentyThousandLevelChainIsRefusedWithBoundedDescriptors() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let (project, sandbox) = try await SandboxClient(client: client, key: host.adminKey).create(name: "deep")
        let files = FileClient(client: client, key: host.adminKey, sandbox: sandbox)
        let path = try await files.workspace(host)
        defer { DeepChain.remove(in: path) }
        #expect(try await files.put("index.html", "<h1>deep</h1>\n") == .ok)
        try DeepChain.make(in: path, levels: 20_000, files: [300: ("deep.txt", Array("x".utf8))])
        let before = DeepChain.openDescriptors(getpid())
        let most = Atomic<Int>(before)
        let stop = Atomic<Bool>(false)
        let sampler = Thread {
            while !stop.load(ordering: .relaxed) {
                let count = DeepChain.openDescriptors(getpid())
                if count > most.load(ordering: .relaxed) { most.store(count, ordering: .relaxed) }
                usleep(2_000)
            }
        }
        sampler.start()
        let started = ContinuousClock.now
        let (status, body) = try await Self.post(client, host.adminKey, project, [:])
        stop.store(true, ordering: .relaxed)
        print("20,000-level chain: \(status) in \(ContinuousClock.now - started), descriptors \(before) → at most \(most.load(ordering: .relaxed))")
        #expect(status == .badRequest, "\(status) \(body)")
        #expect(ContinuousClock.now - started < .seconds(60))
        #expect(most.load(ordering: .relaxed) - before < 64)
        #expect(Self.leftovers(host.configuration.dataDir).isEmpty)
        #expect(try await client.execute(uri: "/api/health", method: .get) { $0.status } == .ok)
    }

    /// Not a check, a measurement for the report: what a deployment of a workspace with 50 MB
    /// of dependencies costs, under `node_modules` (always left out) and under `vendor` (copied
    /// and committed).
    @Test(.testHost(configure: unthrottled)) func measuresADeploymentOfFiftyMegabytesOfDependencies() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let (project, sandbox) = try await SandboxClient(client: client, key: host.adminKey).create(name: "heavy")
        let files = FileClient(client: client, key: host.adminKey, sandbox: sandbox)
        let workspace = try await files.workspace(host)
        #expect(try await files.put("index.html", "<h1>heavy</h1>\n") == .ok)
        var random = SystemRandomNumberGenerator()
        for directory in ["node_modules", "vendor"] {
            // 2,500 packages of two 10 KB files: 50 MB in 5,000 files.
            for package in 0..<2_500 {
                let path = "\(workspace)/\(directory)/pkg\(package)"
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                for name in ["index.js", "lib.js"] {
                    // Distinct files (a random head, then text), made quickly.
                    let head = (0..<64).map { _ in UInt8.random(in: 0x61...0x7A, using: &random) }
                    FileManager.default.createFile(atPath: path + "/" + name, contents: Data(head + Array(repeating: 0x78, count: 10_176)))
                }
            }
            let started = ContinuousClock.now
            let (status, body) = try await Self.post(client, host.adminKey, project, [:])
            print("deployment with 50 MB in \(directory): \(status) \(body["status"] ?? "") in \(ContinuousClock.now - started)")
            #expect(status == .ok && body["status"] as? String == "deployed", "\(body)")
        }
    }
}
