import FileAPI
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The operations of `WorkspaceRoot` on a real directory, without HTTP.
@Suite struct WorkspaceOperationsTests {
    final class Workspace {
        let base: String
        var path: String { base + "/ws" }
        let staging: String

        init() throws {
            base = FileManager.default.temporaryDirectory.appendingPathComponent("ws-ops-\(UUID().uuidString)").path
            staging = base + "/staging"
            try FileManager.default.createDirectory(atPath: base + "/ws", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
            try "SECRET".write(toFile: base + "/secret.txt", atomically: true, encoding: .utf8)
        }

        deinit { try? FileManager.default.removeItem(atPath: base) }

        func root() throws -> WorkspaceRoot { try WorkspaceRoot(path: path) }

        func write(_ relative: String, _ content: String) throws {
            let writer = try AtomicFileWriter(stagingDirectory: staging, maxBytes: 1 << 30, spaceLeft: 1 << 30)
            try writer.write(Array(content.utf8))
            try writer.commit(to: try WorkspacePath(relative), in: try root())
        }

        func link(_ relative: String, to target: String) throws {
            try FileManager.default.createSymbolicLink(atPath: path + "/" + relative, withDestinationPath: target)
        }
    }

    @Test func linksAreFollowedAsTheSandboxSeesThem() throws {
        let workspace = try Workspace()
        try workspace.write("src/lib/util.ts", "util")
        try workspace.link("abs", to: "/workspace/src/lib")
        try workspace.link("src/rel", to: "lib/../lib")
        try workspace.link("chain", to: "abs/../lib")
        let root = try workspace.root()
        for path in ["abs/util.ts", "src/rel/util.ts", "chain/util.ts"] {
            let file = try root.openForReading(try WorkspacePath(path))
            var buffer = [UInt8](repeating: 0, count: 16)
            #expect(read(file.fd.raw, &buffer, 16) == 4, "\(path)")
        }
        // The same names, written through: the file lands where the link leads.
        try workspace.write("abs/new.ts", "new")
        #expect(FileManager.default.contents(atPath: workspace.path + "/src/lib/new.ts") == Data("new".utf8))
    }

    @Test func linksThatLeaveAreRefusedEverywhere() throws {
        let workspace = try Workspace()
        try workspace.link("out", to: workspace.base)
        try workspace.link("up", to: "../")
        try workspace.link("root", to: "/")
        try workspace.link("ws", to: "/workspace/..")
        let root = try workspace.root()
        for raw in ["out/secret.txt", "up/secret.txt", "root/etc/passwd", "ws/etc/passwd"] {
            let path = try WorkspacePath(raw)
            #expect(throws: FileAPIError.self, "\(raw)") { try root.openForReading(path) }
            #expect(throws: FileAPIError.self, "\(raw)") { try workspace.write(raw, "x") }
            #expect(throws: FileAPIError.self, "\(raw)") { try root.list(path.parent) }
        }
        // A link itself can be listed, moved and deleted: it is never followed for those.
        try root.move(from: try WorkspacePath("root"), to: try WorkspacePath("moved"))
        try root.delete(try WorkspacePath("moved"))
        #expect(FileManager.default.fileExists(atPath: "/etc/passwd"))
        #expect(try String(contentsOfFile: workspace.base + "/secret.txt", encoding: .utf8) == "SECRET")
    }

    @Test func isDirectoryFollowsLinksAndSaysNoToWhatIsNotThere() throws {
        let workspace = try Workspace()
        try workspace.write("src/a.ts", "a")
        try workspace.link("to-src", to: "/workspace/src")
        try workspace.link("out", to: "/")
        let root = try workspace.root()
        #expect(root.isDirectory(try WorkspacePath("")))
        #expect(root.isDirectory(try WorkspacePath("src")))
        #expect(root.isDirectory(try WorkspacePath("to-src")))
        #expect(!root.isDirectory(try WorkspacePath("src/a.ts")))
        #expect(!root.isDirectory(try WorkspacePath("missing")))
        #expect(!root.isDirectory(try WorkspacePath("out")), "a link that leaves is no directory of ours")
    }

    @Test func usageCountsAllocatedBytes() throws {
        let workspace = try Workspace()
        try workspace.write("a/b.bin", String(repeating: "x", count: 1 << 20))
        let usage = try workspace.root().diskUsage()
        #expect(usage >= 1 << 20 && usage < (1 << 20) + 65_536, "\(usage)")
    }

    @Test func writerStopsAtItsLimits() throws {
        let workspace = try Workspace()
        let writer = try AtomicFileWriter(stagingDirectory: workspace.staging, maxBytes: 10, spaceLeft: 5)
        try writer.write([1, 2, 3])
        #expect { try writer.write([4, 5, 6]) } throws: { ($0 as? FileAPIError)?.kind == .quotaExceeded }
        let small = try AtomicFileWriter(stagingDirectory: workspace.staging, maxBytes: 2, spaceLeft: 100)
        #expect { try small.write([4, 5, 6]) } throws: { ($0 as? FileAPIError)?.kind == .tooLarge }
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.staging).isEmpty, "staged files have no name")
    }
}
