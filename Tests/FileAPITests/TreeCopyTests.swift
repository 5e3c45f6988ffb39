import Foundation
import Testing
@testable import FileAPI
#if canImport(Glibc)
import Glibc
#endif

/// `TreeCopy`: what is copied and how (links as links, sparse files sparse, special files left
/// out), its caps, and the removal of a copy.
@Suite struct TreeCopyTests {
    static func kind(_ path: String) -> mode_t {
        var info = stat()
        guard lstat(path, &info) == 0 else { return 0 }
        return info.st_mode & S_IFMT
    }

    static func sparse(_ path: String, _ size: Int64) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        defer { close(fd) }
        return fd >= 0 && ftruncate(fd, off_t(size)) == 0
    }

    @Test func copiesFilesDirectoriesAndLinksAsLinksAndLeavesTheRestOut() throws {
        let scratch = try DirectoryWalkTests.Scratch()
        let destination = scratch.path + ".copy"
        defer { _ = try? TreeRemover().remove(path: destination) }
        try FileManager.default.createDirectory(atPath: scratch.path + "/src/node_modules/x", withIntermediateDirectories: true)
        try scratch.write("src/a.txt", Array("alpha\n".utf8))
        try scratch.write("src/run.sh", Array("#!/bin/sh\n".utf8))
        chmod(scratch.path + "/src/run.sh", 0o755)
        try scratch.write("src/node_modules/x/index.js", Array("x".utf8))
        #expect(symlink("/etc", scratch.path + "/src/etc") == 0)
        #expect(symlink("a.txt", scratch.path + "/src/alias") == 0)
        #expect(mkfifo(scratch.path + "/src/fifo", 0o644) == 0)
        #expect(Self.sparse(scratch.path + "/src/hole.bin", 64 << 20))
        let root = try WorkspaceRoot(path: scratch.path)
        let report = try TreeCopy(skipped: ["node_modules"], copyLinks: true).copy(root, WorkspacePath("src"), to: destination, mode: 0o700)
        #expect(report.files == 3)
        #expect(try String(contentsOfFile: destination + "/a.txt", encoding: .utf8) == "alpha\n")
        #expect(FileManager.default.isExecutableFile(atPath: destination + "/run.sh"))
        #expect(Self.kind(destination + "/etc") == S_IFLNK, "a link is copied as a link")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: destination + "/etc") == "/etc")
        #expect(Self.kind(destination + "/fifo") == 0)
        #expect(Self.kind(destination + "/node_modules") == 0)
        var info = stat()
        #expect(stat(destination + "/hole.bin", &info) == 0)
        #expect(info.st_size == 64 << 20)
        #expect(info.st_blocks * 512 < 1 << 20, "the copy of a sparse file is sparse")
        #expect(stat(destination, &info) == 0 && info.st_mode & 0o777 == 0o700)

        let plain = scratch.path + ".plain"
        defer { _ = try? TreeRemover().remove(path: plain) }
        _ = try TreeCopy(copyLinks: false).copy(root, WorkspacePath("src"), to: plain)
        #expect(Self.kind(plain + "/etc") == 0 && Self.kind(plain + "/alias") == 0, "links left out when asked")

        _ = try? TreeRemover().remove(path: destination)
        #expect(Self.kind(destination) == 0, "the copy is removed")
    }

    @Test func capsOnBytesEntriesAndDepthRefuseTheCopy() throws {
        let scratch = try DirectoryWalkTests.Scratch()
        try scratch.write("small.txt", Array("x".utf8))
        #expect(Self.sparse(scratch.path + "/big.bin", 1 << 40))
        let root = try WorkspaceRoot(path: scratch.path)
        func attempt(_ limits: TreeCopy.Limits) -> FileAPIError? {
            let destination = scratch.path + ".copy-\(UUID().uuidString)"
            defer { _ = try? TreeRemover().remove(path: destination) }
            do {
                _ = try TreeCopy(limits: limits, copyLinks: true).copy(root, WorkspacePath(""), to: destination)
                return nil
            } catch {
                return error as? FileAPIError
            }
        }
        #expect(attempt(TreeCopy.Limits())?.kind == .tooLarge, "1 TiB is over 4 GiB")
        unlink(scratch.path + "/big.bin")
        var few = TreeCopy.Limits()
        few.maxEntries = 1
        try scratch.write("other.txt", Array("y".utf8))
        #expect(attempt(few)?.kind == .tooLarge)
        scratch.chain(300)
        #expect(attempt(TreeCopy.Limits())?.kind == .invalidRequest, "300 levels is past 256")
        var deep = TreeCopy.Limits()
        deep.maxDepth = 400
        #expect(attempt(deep) == nil)
    }
}
