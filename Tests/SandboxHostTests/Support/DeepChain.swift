import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A chain of nested directories `d/d/d/…` made with fd-relative calls (a path to its bottom is
/// far beyond PATH_MAX), and its removal without walking it by path.
enum DeepChain {
    /// Makes `levels` directories named `d`, each inside the last, below `directory`. `files[L]`
    /// is written so that it sits at level L (1: directly in `directory`).
    static func make(in directory: String, levels: Int, files: [Int: (name: String, content: [UInt8])] = [:]) throws {
        var fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw HostProcessError("open \(directory): errno \(errno)") }
        defer { close(fd) }
        for level in 1...levels {
            if let file = files[level] { try write(file.content, named: file.name, in: fd) }
            guard mkdirat(fd, "d", 0o755) == 0 || errno == EEXIST else { throw HostProcessError("mkdirat at level \(level): errno \(errno)") }
            let next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard next >= 0 else { throw HostProcessError("openat at level \(level): errno \(errno)") }
            close(fd)
            fd = next
        }
        if let file = files[levels + 1] { try write(file.content, named: file.name, in: fd) }
    }

    private static func write(_ content: [UInt8], named name: String, in directory: Int32) throws {
        let fd = openat(directory, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw HostProcessError("create \(name): errno \(errno)") }
        defer { close(fd) }
        var offset = 0
        while offset < content.count {
            let count = content.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            guard count > 0 else { throw HostProcessError("write \(name): errno \(errno)") }
            offset += count
        }
    }

    /// Removes the chain `d` below `directory` (and any files in it) by moving each level up
    /// before removing its parent: never more than one level deep, by short paths.
    static func remove(in directory: String) {
        var top = "d"
        for index in 0... {
            let path = directory + "/" + top
            for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] where name != "d" {
                try? FileManager.default.removeItem(atPath: path + "/" + name)
            }
            let next = "chain-\(index)"
            let moved = rename(path + "/d", directory + "/" + next) == 0
            rmdir(path)
            guard moved else { return }
            top = next
        }
    }

    /// How many descriptors process `pid` has open.
    static func openDescriptors(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }
}
