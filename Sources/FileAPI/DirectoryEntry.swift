#if canImport(Glibc)
import Glibc
#endif

/// One entry of a directory, with what its `lstat` says that callers use (links are described,
/// never followed). Kept small: a tree of 20,000 entries is sorted directory by directory.
struct DirectoryEntry {
    let name: String
    let mode: mode_t
    let size: Int64
    /// Allocated 512-byte blocks.
    let blocks: Int64
    let modified: timespec

    init(name: String, info: stat) {
        self.name = name
        mode = info.st_mode
        size = Int64(info.st_size)
        blocks = Int64(info.st_blocks)
        modified = info.st_mtim
    }

    var isDirectory: Bool { mode & S_IFMT == S_IFDIR }
    var isRegular: Bool { mode & S_IFMT == S_IFREG }
    var isSymlink: Bool { mode & S_IFMT == S_IFLNK }
    var modificationSeconds: Double { Double(modified.tv_sec) + Double(modified.tv_nsec) / 1e9 }

    /// The entries of the directory open at `directory` (any descriptor, `O_PATH` included), in
    /// the order the file system gives them, the first `limit` of them at most. Entries that
    /// vanish meanwhile are left out.
    static func read(_ directory: Int32, limit: Int = .max) -> [DirectoryEntry] {
        let fd = openat(directory, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0, let stream = fdopendir(fd) else {
            if fd >= 0 { close(fd) }
            return []
        }
        defer { closedir(stream) }
        let streamFD = dirfd(stream)
        var entries: [DirectoryEntry] = []
        while entries.count < limit, let raw = readdir(stream) {
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
