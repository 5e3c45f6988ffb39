#if canImport(Glibc)
import Glibc
#endif

/// Small, whole-file reads and writes of kernel files (cgroupfs, procfs), without Foundation.
enum SystemFile {
    static func write(_ path: String, _ contents: String) throws {
        let fd = try syscallChecked("open \(path)") { open(path, O_WRONLY | O_CLOEXEC) }
        defer { close(fd) }
        let bytes = Array(contents.utf8)
        let written = try syscallChecked("write \(path)") { bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } }
        guard written == bytes.count else { throw RuntimeFailure.system("short write \(path)", EIO) }
    }

    static func read(_ path: String) -> String? {
        RuntimeProbe.readFile(path)
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }
}
