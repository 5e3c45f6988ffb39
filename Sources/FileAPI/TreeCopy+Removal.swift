#if canImport(Glibc)
import Glibc
#endif

extension TreeCopy {
    /// Removes a copy this type made (`path` and everything below it), by descriptor and without
    /// recursion: one directory descriptor open at a time, down by name with `O_NOFOLLOW`, up by
    /// `..`. Meant for the host's own copies (nothing there is moved by a tenant); best effort.
    public static func remove(_ path: String) {
        let top = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard top >= 0 else {
            unlink(path)
            return
        }
        var current = FileDescriptor(top)
        // The directories still to remove in each directory entered, and the name of each entered.
        var pending = [subdirectories(emptying: current.raw)]
        var names: [String] = []
        while let last = pending.indices.last {
            if let name = pending[last].popLast() {
                guard let child = DirectoryEntry.openDirectory(current.raw, name) else { continue }
                current = child
                names.append(name)
                pending.append(subdirectories(emptying: child.raw))
                continue
            }
            pending.removeLast()
            guard let name = names.popLast() else { break }
            let parent = openat(current.raw, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard parent >= 0 else { return }
            current = FileDescriptor(parent)
            unlinkat(current.raw, name, AT_REMOVEDIR)
        }
        rmdir(path)
    }

    /// Unlinks every entry of `directory` but its subdirectories, and answers their names.
    private static func subdirectories(emptying directory: Int32) -> [String] {
        var directories: [String] = []
        for entry in DirectoryEntry.read(directory) {
            if entry.isDirectory { directories.append(entry.name) } else { unlinkat(directory, entry.name, 0) }
        }
        return directories
    }
}
