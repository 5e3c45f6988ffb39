import FileAPI
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A deployment's copy of the workspace costs the host what the files hold, not their length:
/// a sandbox with a small disk budget can make a file of a terabyte of holes.
@Suite struct SparseCopyTests {
    @Test func holesStayHolesAndDataStaysData() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("sparse-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(atPath: base + "/ws/site", withIntermediateDirectories: true)
        let length: Int64 = 1 << 30  // 1 GiB long, two small extents of data (small enough for the old copy to finish)
        let fd = open(base + "/ws/site/huge.bin", O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        #expect(fd >= 0)
        #expect(ftruncate(fd, off_t(length)) == 0)
        #expect(pwrite(fd, "head", 4, 0) == 4)
        #expect(pwrite(fd, "middle", 6, off_t(length / 2)) == 6)
        close(fd)
        try "small".write(toFile: base + "/ws/site/small.txt", atomically: false, encoding: .utf8)

        let copied = try WorkspaceRoot(path: base + "/ws").copyTree(try WorkspacePath("site"), to: base + "/out")
        #expect(copied == 2)
        var info = stat()
        #expect(stat(base + "/out/huge.bin", &info) == 0)
        #expect(Int64(info.st_size) == length)
        #expect(Int64(info.st_blocks) * 512 <= 1 << 20, "the copy allocated \(Int64(info.st_blocks) * 512) bytes")
        let copy = open(base + "/out/huge.bin", O_RDONLY | O_CLOEXEC)
        defer { close(copy) }
        var head = [UInt8](repeating: 0, count: 4), middle = [UInt8](repeating: 0, count: 6), zero = [UInt8](repeating: 1, count: 8)
        #expect(pread(copy, &head, 4, 0) == 4 && head == Array("head".utf8))
        #expect(pread(copy, &middle, 6, off_t(length / 2)) == 6 && middle == Array("middle".utf8))
        #expect(pread(copy, &zero, 8, off_t(length / 4)) == 8 && zero == [UInt8](repeating: 0, count: 8))
        #expect(try String(contentsOfFile: base + "/out/small.txt", encoding: .utf8) == "small")
    }
}
