#if canImport(Glibc)
import Glibc
#endif

/// One entry of a directory, with its `lstat` (links are described, never followed).
struct DirectoryEntry {
    let name: String
    let info: stat

    var isDirectory: Bool { info.st_mode & S_IFMT == S_IFDIR }
    var isRegular: Bool { info.st_mode & S_IFMT == S_IFREG }
    var isSymlink: Bool { info.st_mode & S_IFMT == S_IFLNK }

    /// The entries of the directory open at `directory` (any descriptor, `O_PATH` included), in
    /// the order the file system gives them. Entries that vanish meanwhile are left out.
    static func read(_ directory: Int32) -> [DirectoryEntry] {
        let fd = openat(directory, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0, let stream = fdopendir(fd) else {
            if fd >= 0 { close(fd) }
            return []
        }
        defer { closedir(stream) }
        let streamFD = dirfd(stream)
        var entries: [DirectoryEntry] = []
        while let raw = readdir(stream) {
            let name = withUnsafePointer(to: raw.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            var info = stat()
            guard fstatat(streamFD, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            entries.append(DirectoryEntry(name: name, info: info))
        }
        return entries
    }

    /// Opens the subdirectory `name` of `directory` without following a link.
    static func openDirectory(_ directory: Int32, _ name: String) -> FileDescriptor? {
        let fd = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        return fd >= 0 ? FileDescriptor(fd) : nil
    }
}

extension stat {
    var modificationSeconds: Double { Double(st_mtim.tv_sec) + Double(st_mtim.tv_nsec) / 1e9 }
}
