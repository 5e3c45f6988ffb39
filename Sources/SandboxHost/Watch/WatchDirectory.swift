import FileAPI
#if canImport(Glibc)
import Glibc
#endif

/// The few file operations file watching does on a tenant's tree, all by descriptor and never
/// following a link: a directory is opened beneath its parent with O_NOFOLLOW|O_DIRECTORY (a
/// link or a file there is refused by the kernel), entries are read with `readdir`.
enum WatchDirectory {
    /// `name` in `parent` as a directory; nil if it is missing, a link or not a directory.
    static func open(_ parent: Int32, _ name: [UInt8]) -> FileDescriptor? {
        let fd = (name + [0]).withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { openat(parent, $0.baseAddress!, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        }
        return fd >= 0 ? FileDescriptor(fd) : nil
    }

    /// The workspace directory itself (a host path, not the tenant's).
    static func openRoot(_ path: String) -> FileDescriptor? {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        return fd >= 0 ? FileDescriptor(fd) : nil
    }

    static func inode(_ fd: Int32) -> (device: UInt64, inode: UInt64)? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }

    /// What `name` in `parent` is, without following it: nil when missing.
    static func kind(_ parent: Int32, _ name: [UInt8]) -> mode_t? {
        var info = stat()
        let found = (name + [0]).withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { fstatat(parent, $0.baseAddress!, &info, AT_SYMLINK_NOFOLLOW) }
        }
        return found == 0 ? info.st_mode & S_IFMT : nil
    }

    /// Reads the entries of the directory open at `fd` (`.` and `..` left out), `limit` at most,
    /// each with whether it is a directory (not following links), handing each to `body`.
    static func entries(_ fd: Int32, limit: Int, _ body: ([UInt8], Bool) -> Void) {
        let copy = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard copy >= 0 else { return }
        guard let stream = fdopendir(copy) else {
            close(copy)
            return
        }
        defer { closedir(stream) }
        var seen = 0
        while seen < limit, let raw = readdir(stream) {
            let name = withUnsafeBytes(of: raw.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name == [46] || name == [46, 46] { continue }
            seen += 1
            let type = raw.pointee.d_type
            let isDirectory = type == UInt8(DT_UNKNOWN) ? kind(fd, name) == S_IFDIR : type == UInt8(DT_DIR)
            body(name, isDirectory)
        }
    }

    /// Opens the workspace and each of `base`'s components below it, one name at a time and
    /// never through a link, handing `visit` each directory on the way (the root with no name).
    /// 404 for a missing path; 400 for a link (watch its target) or a file.
    static func resolve(workspace: String, base: WorkspacePath, _ visit: (FileDescriptor, [UInt8]?) throws -> Void) throws {
        guard var current = openRoot(workspace) else { throw HostError.notFound("the workspace") }
        try visit(current, nil)
        for component in base.components {
            let name = Array(component.utf8)
            guard let next = open(current.raw, name) else {
                switch kind(current.raw, name) {
                case nil: throw HostError(.notFound, "\(base) not found")
                case S_IFLNK?: throw HostError(.validation, "\(base) goes through a symbolic link; watch the directory it points to")
                case S_IFDIR?: throw HostError(.notFound, "\(base) changed while it was opened")
                default:
                    if component == base.components.last { throw HostError(.validation, "\(base) is a file; watch its directory") }
                    throw HostError(.notFound, "\(base) not found")
                }
            }
            try visit(next, name)
            current = next
        }
    }
}
