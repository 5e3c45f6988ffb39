@testable import FileAPI
import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `TreeRemover` and `TreeOwnership` on real directories: links are never followed, a tree of
/// any depth is walked with a bounded number of descriptors, odd names are handled.
@Suite(.serialized) struct TreeWalkTests {
    /// A temporary directory with `tree/` (the walked tree) and `canary/` (outside it, files a
    /// link in the tree points to), removed afterwards.
    final class Scratch {
        let base: String
        var tree: String { base + "/tree" }
        var canary: String { base + "/canary" }

        init() throws {
            base = FileManager.default.temporaryDirectory.appendingPathComponent("tree-walk-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: base + "/tree", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: base + "/canary/sub", withIntermediateDirectories: true)
            for index in 0..<5 {
                try "keep \(index)".write(toFile: base + "/canary/f\(index)", atomically: false, encoding: .utf8)
                try "keep \(index)".write(toFile: base + "/canary/sub/f\(index)", atomically: false, encoding: .utf8)
            }
        }

        deinit {
            _ = try? TreeRemover().remove(path: base)
        }

        func canaryFiles() -> [String] {
            ((try? FileManager.default.subpathsOfDirectory(atPath: canary)) ?? []).sorted()
        }

        func owner(_ path: String) -> uid_t {
            var info = stat()
            lstat(path, &info)
            return info.st_uid
        }
    }

    static let canaryListing = ["f0", "f1", "f2", "f3", "f4", "sub", "sub/f0", "sub/f1", "sub/f2", "sub/f3", "sub/f4"]

    @Test func removalTakesTheLinkNotWhatItPointsTo() throws {
        let scratch = try Scratch()
        try FileManager.default.createDirectory(atPath: scratch.tree + "/a/b", withIntermediateDirectories: true)
        try "x".write(toFile: scratch.tree + "/a/b/file", atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: scratch.tree + "/a/to-canary", withDestinationPath: scratch.canary)
        try FileManager.default.createSymbolicLink(atPath: scratch.tree + "/a/b/to-sub", withDestinationPath: scratch.canary + "/sub")
        try FileManager.default.createSymbolicLink(atPath: scratch.tree + "/dangling", withDestinationPath: "/nonexistent/x")
        let outcome = try TreeRemover().remove(path: scratch.tree)
        #expect(!FileManager.default.fileExists(atPath: scratch.tree))
        #expect(outcome.removed == 7)
        #expect(scratch.canaryFiles() == Self.canaryListing)
        // Idempotent: a second removal of what is gone is not an error.
        #expect(try TreeRemover().remove(path: scratch.tree).removed == 0)
    }

    @Test func removingALinkItselfRemovesOnlyTheLink() throws {
        let scratch = try Scratch()
        try FileManager.default.createSymbolicLink(atPath: scratch.tree + "/link", withDestinationPath: scratch.canary)
        try TreeRemover().remove(path: scratch.tree + "/link")
        #expect(scratch.canaryFiles() == Self.canaryListing)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.tree).isEmpty)
    }

    @Test func ownershipChangeLeavesLinkTargetsAlone() throws {
        let scratch = try Scratch()
        try FileManager.default.createDirectory(atPath: scratch.tree + "/a", withIntermediateDirectories: true)
        try "x".write(toFile: scratch.tree + "/a/file", atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: scratch.tree + "/a/to-canary", withDestinationPath: scratch.canary)
        let before = scratch.owner(scratch.canary + "/f0")
        let shifted: UInt32 = 3_000_000
        try TreeOwnership { $0 == shifted ? $0 : shifted }.apply(path: scratch.tree)
        for path in ["", "/a", "/a/file", "/a/to-canary"] {
            #expect(scratch.owner(scratch.tree + path) == shifted, "\(path)")
        }
        for path in ["", "/f0", "/sub", "/sub/f0"] {
            #expect(scratch.owner(scratch.canary + path) == before, "canary\(path)")
        }
    }

    /// Names that are not UTF-8 are removed and re-owned like any other (a name turned into a
    /// `String` and back would be another name, and the walk would never empty the directory).
    @Test func namesThatAreNotUTF8() throws {
        let scratch = try Scratch()
        let fd = open(scratch.tree, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        let odd: [CChar] = [0x66, CChar(bitPattern: 0xff), CChar(bitPattern: 0xfe), 0]
        #expect(mkdirat(fd, odd, 0o755) == 0)
        let inner = openat(fd, odd, O_RDONLY | O_DIRECTORY)
        #expect(close(openat(inner, odd, O_CREAT | O_WRONLY, 0o644)) == 0)
        close(inner)
        try TreeOwnership { _ in 3_000_001 }.apply(path: scratch.tree)
        try TreeRemover().remove(path: scratch.tree)
        #expect(!FileManager.default.fileExists(atPath: scratch.tree))
    }

    /// More subdirectories than a batch: listed again until none is left; owners all changed.
    @Test func wideDirectoriesInBatches() throws {
        let scratch = try Scratch()
        for index in 0..<300 {
            try FileManager.default.createDirectory(atPath: scratch.tree + "/d\(index)/e", withIntermediateDirectories: true)
            try "x".write(toFile: scratch.tree + "/d\(index)/e/f", atomically: false, encoding: .utf8)
        }
        var ownership = TreeOwnership { _ in 3_000_002 }
        ownership.batch = 7
        try ownership.apply(path: scratch.tree)
        let owners = Set(try FileManager.default.subpathsOfDirectory(atPath: scratch.tree).map { scratch.owner(scratch.tree + "/" + $0) })
        #expect(owners == [3_000_002])
        var remover = TreeRemover(maxOpen: 4)
        remover.batch = 7
        let outcome = try remover.remove(path: scratch.tree)
        #expect(outcome.removed == 901)
        #expect(!FileManager.default.fileExists(atPath: scratch.tree))
    }

    /// 20,000 levels (the process allows 20,000 descriptors here): removed and re-owned with at
    /// most `maxOpen` directories open, the process's descriptor count sampled meanwhile.
    @Test(.timeLimit(.minutes(5))) func deepChainsWithABoundedNumberOfDescriptors() throws {
        let scratch = try Scratch()
        try Self.makeChain(scratch.tree, depth: 20_000)
        let sampler = DescriptorSampler()
        let ownershipPeak = try sampler.during { try TreeOwnership(maxOpen: 64) { _ in 3_000_003 }.apply(path: scratch.tree) }
        #expect(ownershipPeak <= 64)
        let outcome = try sampler.during { try TreeRemover(maxOpen: 64).remove(path: scratch.tree) }
        #expect(outcome.peakOpen <= 64)
        #expect(outcome.removed == 20_001)
        #expect(!FileManager.default.fileExists(atPath: scratch.tree))
        // Process-wide: other tests of this process open descriptors meanwhile, so the bound is
        // loose; a walk holding one per level would show ~20,000.
        #expect(sampler.peakAboveStart < 2_000, "descriptors held during the walk: \(sampler.peakAboveStart)")
    }

    /// `WorkspaceRoot.delete` (the file API's DELETE) of a 20,000-level chain: the old recursive
    /// walk held one descriptor per level and ran out of them.
    @Test(.timeLimit(.minutes(5))) func workspaceDeleteOfADeepChain() throws {
        let scratch = try Scratch()
        try Self.makeChain(scratch.tree + "/top", depth: 20_000)
        let root = try WorkspaceRoot(path: scratch.tree)
        let sampler = DescriptorSampler()
        try sampler.during { try root.delete(try WorkspacePath("top")) }
        #expect(!FileManager.default.fileExists(atPath: scratch.tree + "/top"))
        #expect(sampler.peakAboveStart < 2_000, "descriptors held during the walk: \(sampler.peakAboveStart)")
    }

    // MARK: - Helpers

    /// `path/d/d/d/…`, `depth` levels below `path`, made by descriptor (the path is too long for
    /// any path-based call).
    static func makeChain(_ path: String, depth: Int) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        var fd = open(path, O_RDONLY | O_DIRECTORY)
        for _ in 0..<depth {
            #expect(mkdirat(fd, "d", 0o755) == 0)
            let next = openat(fd, "d", O_RDONLY | O_DIRECTORY)
            close(fd)
            fd = next
        }
        close(fd)
    }

}

/// Samples the process's open descriptors on a thread while a body runs.
final class DescriptorSampler: @unchecked Sendable {
    private let peak = Atomic<Int>(0)
    private let running = Atomic<Bool>(false)
    private var start = 0

    var peakAboveStart: Int { peak.load(ordering: .relaxed) - start }

    static func count() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(directory) }
        var count = 0
        while readdir(directory) != nil { count += 1 }
        return count - 3
    }

    func during<T>(_ body: () throws -> T) throws -> T {
        start = Self.count()
        peak.store(start, ordering: .relaxed)
        running.store(true, ordering: .relaxed)
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            while running.load(ordering: .relaxed) {
                let now = Self.count()
                if now > peak.load(ordering: .relaxed) { peak.store(now, ordering: .relaxed) }
                usleep(2000)
            }
            finished.signal()
        }
        thread.start()
        defer {
            running.store(false, ordering: .relaxed)
            finished.wait()
        }
        return try body()
    }
}
