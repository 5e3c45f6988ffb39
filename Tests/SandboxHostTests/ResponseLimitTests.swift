import Foundation
import Testing
@testable import SandboxHost
#if canImport(Glibc)
import Glibc
#endif

extension HeavySuites {
/// Answers that repeat a path in every entry (issue 14, item 5): a directory of 200,000 files
/// under a path of 4 KB, and a deep tree of long names, must give an answer no larger than the
/// limits and say `truncated`, quickly, without the host's memory growing with the tenant's tree.
/// Against the real binary: what is measured is the host process's own peak memory.
@Suite(.serialized, .enabled(if: runningAsRoot, "file routes need a sandbox, which needs root, as in CI"))
struct ResponseLimitTests {
    /// Makes `levels` directories named `name`, each inside the last, below `directory`; answers
    /// the innermost, open, and its path below `directory`.
    static func nest(in directory: String, levels: Int, name: String) throws -> (fd: Int32, relative: String) {
        var fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw HostProcessError("open \(directory): errno \(errno)") }
        for level in 1...levels {
            guard mkdirat(fd, name, 0o755) == 0 || errno == EEXIST else { throw HostProcessError("mkdirat at \(level): errno \(errno)") }
            let next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            close(fd)
            guard next >= 0 else { throw HostProcessError("openat at \(level): errno \(errno)") }
            fd = next
        }
        return (fd, Array(repeating: name, count: levels).joined(separator: "/"))
    }

    /// Creates `names` as empty files in `directory`.
    static func touch(_ names: some Sequence<String>, in directory: Int32) throws {
        for name in names {
            let fd = openat(directory, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw HostProcessError("create \(name): errno \(errno)") }
            close(fd)
        }
    }

    @Test func listOfTwoHundredThousandFilesUnderAFourKilobytePathIsCapped() async throws {
        // 200,000 files need 200,000 inodes: a 2 GiB disk budget has 262,144 (the default 1 GiB, 131,072).
        try await DeepWalkTests.withHost(["SANDBOX_HOST_SANDBOX_DISK_MB": "2048"]) { host, key, sandbox, workspace in
            // 16 levels of 250-byte names: /workspace/… is about 4,030 bytes long.
            let (fd, relative) = try Self.nest(in: workspace, levels: 16, name: String(repeating: "n", count: 250))
            defer { close(fd) }
            try Self.touch((0..<200_000).lazy.map { "f\($0)" }, in: fd)
            #expect(try await host.request(.GET, "/api/health", key: nil).status == 200)
            let pid = host.process.processIdentifier
            let before = DeepWalkTests.peakMemory(pid)
            let started = ContinuousClock.now
            let listed = try await host.get(
                "/api/sandboxes/\(sandbox)/files?path=/workspace/\(relative)", key: key, upTo: 256 << 20, timeout: .seconds(60))
            let elapsed = ContinuousClock.now - started
            let after = DeepWalkTests.peakMemory(pid)
            let json = try JSONSerialization.jsonObject(with: Data(listed.body.utf8)) as? [String: Any] ?? [:]
            let files = (json["files"] as? [Any])?.count ?? -1
            print("list of 200,000 files under a 4 KB path: \(files) entries, \(listed.body.utf8.count) bytes in \(elapsed); peak memory \(before >> 20) → \(after >> 20) MiB")
            #expect(listed.status == 200, "\(listed.body.prefix(300))")
            #expect(json["truncated"] as? Bool == true)
            #expect(files > 0 && files <= 100_000)
            #expect(listed.body.utf8.count <= (64 << 20) + (1 << 20))
            #expect(elapsed < .seconds(10))
            #expect(after - before < 1 << 30, "the listing took \((after - before) >> 20) MiB")
            #expect(host.process.isRunning)
            // A small directory is whole and says so.
            let small = try await host.request(.GET, "/api/sandboxes/\(sandbox)/files", key: key)
            let whole = small.body.contains("\"truncated\":false")
            #expect(whole, "\(small.body.prefix(300))")
        }
    }

    @Test func treeOfLongNamesTwoHundredLevelsDeepIsCappedInBytes() async throws {
        try await DeepWalkTests.withHost(["SANDBOX_HOST_MAX_RESPONSE_BYTES": "\(8 << 20)"]) { host, key, sandbox, workspace in
            // 200 levels of 255-byte names, each holding 20 files of 255-byte names (and 50 lines to find): every node
            // repeats a path of up to 51 KB; the whole tree would be about 110 MB of JSON.
            let name = String(repeating: "d", count: 255)
            var fd = open(workspace, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            for _ in 0..<200 {
                try Self.touch((0..<20).map { String(format: "%03d", $0) + String(repeating: "f", count: 252) }, in: fd)
                let needles = openat(fd, "needles.txt", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                let lines = Array(String(repeating: "needle\n", count: 50).utf8)
                #expect(write(needles, lines, lines.count) == lines.count)
                close(needles)
                mkdirat(fd, name, 0o755)
                let next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                close(fd)
                fd = next
                try #require(fd >= 0)
            }
            close(fd)
            let pid = host.process.processIdentifier
            let before = DeepWalkTests.peakMemory(pid)
            let started = ContinuousClock.now
            let tree = try await host.get("/api/sandboxes/\(sandbox)/files/tree", key: key, upTo: 512 << 20, timeout: .seconds(60))
            let elapsed = ContinuousClock.now - started
            let after = DeepWalkTests.peakMemory(pid)
            print("tree of long names 200 levels deep: \(tree.body.utf8.count) bytes in \(elapsed); peak memory \(before >> 20) → \(after >> 20) MiB")
            #expect(tree.status == 200)
            let treeTruncated = tree.body.contains("\"truncated\":true")
            #expect(treeTruncated)
            #expect(tree.body.utf8.count <= (8 << 20) + (1 << 20))
            #expect((try? JSONSerialization.jsonObject(with: Data(tree.body.utf8))) != nil, "the cut tree is not valid JSON")
            #expect(after - before < 256 << 20, "the tree took \((after - before) >> 20) MiB")

            // A search whose every match repeats such a path is capped in bytes too.
            let search = try await host.get(
                "/api/sandboxes/\(sandbox)/files/search?query=needle&limit=10000", key: key, upTo: 512 << 20, timeout: .seconds(60))
            print("search of 10,000 matches 200 levels deep: \(search.body.utf8.count) bytes")
            #expect(search.status == 200)
            let searchTruncated = search.body.contains("\"truncated\":true")
            #expect(searchTruncated)
            #expect(search.body.utf8.count <= (8 << 20) + (1 << 20))
            #expect(host.process.isRunning)
        }
    }
}
}
