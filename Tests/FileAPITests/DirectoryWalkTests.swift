import Foundation
import Testing
@testable import FileAPI
#if canImport(Glibc)
import Glibc
#endif

/// `DirectoryWalk` and what is built on it: depth cap, descriptors, linear search.
@Suite struct DirectoryWalkTests {
    /// A fresh workspace directory, removed afterwards (chains first, level by level).
    final class Scratch {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("walk-\(UUID().uuidString)").path
        init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit {
            var top = "d"
            for index in 0... {
                let next = "chain-\(index)"
                for name in (try? FileManager.default.contentsOfDirectory(atPath: path + "/" + top)) ?? [] where name != "d" {
                    try? FileManager.default.removeItem(atPath: path + "/" + top + "/" + name)
                }
                let moved = rename(path + "/" + top + "/d", path + "/" + next) == 0
                rmdir(path + "/" + top)
                if !moved { break }
                top = next
            }
            try? FileManager.default.removeItem(atPath: path)
        }

        /// `levels` nested directories `d`, with `file` (name, bytes) at the bottom.
        func chain(_ levels: Int, file: (String, [UInt8])? = nil) {
            var fd = open(path, O_RDONLY | O_DIRECTORY)
            for _ in 0..<levels {
                mkdirat(fd, "d", 0o755)
                let next = openat(fd, "d", O_RDONLY | O_DIRECTORY)
                close(fd)
                fd = next
            }
            if let (name, bytes) = file {
                let out = openat(fd, name, O_WRONLY | O_CREAT, 0o644)
                _ = bytes.withUnsafeBytes { Glibc.write(out, $0.baseAddress!, $0.count) }
                close(out)
            }
            close(fd)
        }

        func write(_ name: String, _ bytes: [UInt8]) throws {
            try Data(bytes).write(to: URL(fileURLWithPath: path + "/" + name))
        }
    }

    /// Descriptors of this process open on something below `path`: only the walk's, whatever
    /// other tests of the process open meanwhile.
    static func descriptors(below path: String) -> Int {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return fds.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0))?.hasPrefix(path) == true }.count
    }

    /// Notes how many descriptors the process has open at the deepest entry.
    struct DeepestCounter: DirectoryVisitor {
        let tree: String
        var deepest = 0
        var descriptorsThere = 0
        mutating func visit(_ item: DirectoryWalk.Item) -> DirectoryWalk.Action {
            if item.level > deepest {
                deepest = item.level
                descriptorsThere = DirectoryWalkTests.descriptors(below: tree)
            }
            return .descend
        }
    }

    @Test func aDeepChainIsWalkedWithAFewDescriptorsAndNoRecursion() throws {
        let scratch = try Scratch()
        scratch.chain(3_000, file: ("bottom.txt", Array("x".utf8)))
        let root = try WorkspaceRoot(path: scratch.path)
        var counter = DeepestCounter(tree: scratch.path)
        var walk = DirectoryWalk(maxDepth: nil, sorted: true)
        try walk.run(root.fd, prefix: "", visitor: &counter)
        #expect(counter.deepest == 3_001)
        #expect(counter.descriptorsThere <= 4, "\(counter.descriptorsThere) descriptors open on the tree at its bottom")
        #expect(!walk.truncated)
        #expect(root.diskUsage() > 3_000 * 512, "every level counts toward the quota, however deep")
    }

    @Test func treeStopsAtMaxDepthAndSaysSo() throws {
        let scratch = try Scratch()
        scratch.chain(10, file: ("bottom.txt", Array("x".utf8)))
        let root = try WorkspaceRoot(path: scratch.path)
        var tree = try root.tree(try WorkspacePath(""), depth: nil, all: false, maxDepth: 4)
        #expect(tree.truncated)
        var levels = 0
        var nodes = tree.nodes
        while let first = nodes.first {
            levels += 1
            nodes = first.children ?? []
        }
        #expect(levels == 4)
        #expect(tree.totalFiles == 0)
        tree = try root.tree(try WorkspacePath(""), depth: 3, all: false, maxDepth: 4)
        #expect(!tree.truncated, "a depth the client asked for is no truncation")
        tree = try root.tree(try WorkspacePath(""), depth: nil, all: false, maxDepth: 11)
        #expect(!tree.truncated && tree.totalFiles == 1)
        // An empty directory at the cap hides nothing.
        let flat = try Scratch()
        flat.chain(2)
        #expect(!(try WorkspaceRoot(path: flat.path).tree(try WorkspacePath(""), depth: nil, all: false, maxDepth: 2).truncated))
    }

    @Test func searchCountsLinesAndCutsThemAsBefore() throws {
        let scratch = try Scratch()
        try scratch.write("a.txt", Array("one Needle\r\ntwo\n\nneedle needle three\nfour\nlast needle".utf8))
        let root = try WorkspaceRoot(path: scratch.path)
        var options = SearchOptions(query: "needle")
        var found = try root.search(try WorkspacePath(""), options)
        #expect(found.matches.map { "\($0.line):\($0.text)" } == ["4:needle needle three", "6:last needle"])
        options.ignoreCase = true
        found = try root.search(try WorkspacePath(""), options)
        #expect(found.matches.map { "\($0.line):\($0.text)" } == ["1:one Needle", "4:needle needle three", "6:last needle"])
        #expect(!found.truncated)
        options.query = "needle\nfour"
        #expect(try root.search(try WorkspacePath(""), options).matches.isEmpty, "a match never spans lines")
    }

    @Test func searchIsLinearInNewlines() throws {
        let scratch = try Scratch()
        try scratch.write("n.txt", [UInt8](repeating: 10, count: 4_000_000) + Array("needle".utf8))
        let root = try WorkspaceRoot(path: scratch.path)
        let started = ContinuousClock.now
        let found = try root.search(try WorkspacePath(""), SearchOptions(query: "needle"))
        #expect(found.matches.map(\.line) == [4_000_001])
        #expect(ContinuousClock.now - started < .seconds(2))
    }

    @Test func searchStopsAtItsBudgets() throws {
        let scratch = try Scratch()
        for index in 0..<4 { try scratch.write("f\(index).txt", Array("needle\n".utf8) + [UInt8](repeating: 97, count: 1000)) }
        let root = try WorkspaceRoot(path: scratch.path)
        var options = SearchOptions(query: "needle")
        options.maxBytesRead = 2_500
        var found = try root.search(try WorkspacePath(""), options)
        #expect(found.matches.count == 2 && found.truncated)
        options = SearchOptions(query: "needle")
        options.timeBudget = .zero
        found = try root.search(try WorkspacePath(""), options)
        #expect(found.matches.isEmpty && found.truncated)
        options = SearchOptions(query: "needle")
        options.maxDepth = 1
        scratch.chain(3, file: ("deep.txt", Array("needle".utf8)))
        found = try root.search(try WorkspacePath(""), options)
        #expect(found.matches.count == 4 && found.truncated)
    }

    /// Shows every entry, descends everywhere, and runs `hook` on each first.
    struct Recorder: DirectoryVisitor {
        var seen: [String] = []
        let hook: (DirectoryWalk.Item) -> Void
        mutating func visit(_ item: DirectoryWalk.Item) -> DirectoryWalk.Action {
            hook(item)
            seen.append(item.path)
            return .descend
        }
    }

    @Test func aDirectoryMovedOutOfTheWalkMidWayEndsItThere() throws {
        let scratch = try Scratch()
        try FileManager.default.createDirectory(atPath: scratch.path + "/sub/a/b/c", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: scratch.path + "/other", withIntermediateDirectories: true)
        try scratch.write("sub/a/b/c/file.txt", [1])
        try scratch.write("sub/z.txt", [1])
        try scratch.write("other/secret.txt", [1])
        let start = open(scratch.path + "/sub", O_RDONLY | O_DIRECTORY)
        defer { close(start) }
        let base = scratch.path
        var recorder = Recorder { item in
            // Inside sub/a/b/c, `a` is moved out of the walk's start: going back up through `..`
            // now leads to `other`, which is not where the walk came from.
            if item.path == "a/b/c/file.txt" { rename(base + "/sub/a", base + "/other/a") }
        }
        var walk = DirectoryWalk(maxDepth: nil, sorted: true)
        try walk.run(start, prefix: "", visitor: &recorder)
        #expect(recorder.seen == ["a", "a/b", "a/b/c", "a/b/c/file.txt"])
        #expect(walk.truncated)
    }
}
