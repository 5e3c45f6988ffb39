#if canImport(Glibc)
import Glibc
#endif

extension WorkspaceRoot {
    /// Removes `path`, directories recursively. A symlink is removed itself, never followed; the
    /// workspace itself cannot be removed.
    public func delete(_ path: WorkspacePath) throws {
        guard !path.isRoot else { throw FileAPIError.invalidPath("/workspace itself cannot be deleted") }
        let location = try resolve(path, followFinal: false)
        guard let name = location.name else { throw FileAPIError.invalidPath("/workspace itself cannot be deleted") }
        var info = stat()
        guard fstatat(location.directory.raw, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw FileAPIError.system("fstatat", errno, path)
        }
        try Self.removeEntry(location.directory.raw, name, isDirectory: info.st_mode & S_IFMT == S_IFDIR, path)
        Self.syncDirectory(location.directory)
    }

    /// Removes `name` in `directory`; a directory's contents first, walking by descriptor with a
    /// bounded number of them open (`TreeRemover`), whatever the depth. `isDirectory` is what
    /// the caller saw; the walk looks again itself (the entry may have changed since).
    static func removeEntry(_ directory: Int32, _ name: String, isDirectory: Bool, _ path: WorkspacePath) throws {
        do {
            try TreeRemover().remove(Array(name.utf8CString), in: directory)
        } catch let error as FileAPIError {
            guard let failure = error.cause as? FileSystemFailure else { throw error }
            throw FileAPIError.system(failure.call, failure.code, path)
        }
    }

    /// Renames `from` to `to` (a symlink is moved itself), making `to`'s missing parents. An
    /// existing file at `to` is replaced; an existing non-empty directory is a conflict.
    public func move(from: WorkspacePath, to: WorkspacePath) throws {
        guard !from.isRoot, !to.isRoot else { throw FileAPIError.invalidPath("/workspace itself cannot be moved or replaced") }
        guard !from.contains(to) || from == to else { throw FileAPIError.invalidRequest("cannot move \(from) into itself") }
        let source = try resolve(from, followFinal: false)
        guard let sourceName = source.name else { throw FileAPIError.invalidPath("/workspace itself cannot be moved") }
        var info = stat()
        guard fstatat(source.directory.raw, sourceName, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw FileAPIError.system("fstatat", errno, from)
        }
        let target = try resolve(to, followFinal: false, createParents: true)
        guard let targetName = target.name else { throw FileAPIError.invalidPath("/workspace itself cannot be replaced") }
        guard renameat(source.directory.raw, sourceName, target.directory.raw, targetName) == 0 else {
            throw FileAPIError.system("rename", errno, errno == ENOENT ? from : to)
        }
        Self.syncDirectory(target.directory)
        Self.syncDirectory(source.directory)
    }

    /// Opens regular file `path` for reading, following symlinks as the sandbox would. A
    /// directory is a 400, anything but a regular file (fifo, socket) too.
    public func openForReading(_ path: WorkspacePath) throws -> (fd: FileDescriptor, size: Int64, modified: Double) {
        let location = try resolve(path, followFinal: true)
        guard location.name != nil else { throw FileAPIError.invalidRequest("\(path) is a directory") }
        // O_NONBLOCK: opening a fifo must not wait for a writer.
        let fd = FileDescriptor(try Self.open(location, flags: O_RDONLY | O_NONBLOCK, path))
        let info = try fd.status(path)
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw FileAPIError.invalidRequest("\(path) is a directory")
        default: throw FileAPIError.invalidRequest("\(path) is not a regular file")
        }
        let flags = fcntl(fd.raw, F_GETFL)
        _ = fcntl(fd.raw, F_SETFL, flags & ~O_NONBLOCK)
        return (fd, Int64(info.st_size), info.modificationSeconds)
    }
}
