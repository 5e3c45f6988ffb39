import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The host's mounts, from `/proc/self/mountinfo`: what a start sweeps and what a delete checks.
enum MountTable {
    struct Entry: Equatable {
        let mountPoint: String
        let fileSystem: String
        let source: String
    }

    static func read() -> [Entry] {
        String(decoding: readProcFile("/proc/self/mountinfo"), as: UTF8.self).split(separator: "\n").compactMap(parse)
    }

    /// Reads to the end: a proc file says its size is 0, so a reader that trusts the size reads
    /// a part. Bounded (64 MiB, far above any mount table).
    static func readProcFile(_ path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while bytes.count < 64 << 20 {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += chunk[..<count]
        }
        return bytes
    }

    /// One line: `id parent major:minor root mount-point options [optional…] - fstype source super-options`.
    static func parse(_ line: Substring) -> Entry? {
        let fields = line.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count >= 10, let dash = fields.firstIndex(of: "-"), dash + 2 < fields.count else { return nil }
        return Entry(mountPoint: unescape(fields[4]), fileSystem: String(fields[dash + 1]), source: unescape(fields[dash + 2]))
    }

    /// The kernel writes space, tab, newline and backslash as `\ooo`.
    static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        let utf8 = Array(field.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "\\"), index + 3 < utf8.count,
               let value = UInt8(String(decoding: utf8[(index + 1)...(index + 3)], as: UTF8.self), radix: 8) {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
