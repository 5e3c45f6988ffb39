#if canImport(Glibc)
import Glibc
#endif

extension WorkspaceRoot {
    /// Copies directory `path` to `destination` (a new host directory) for publishing: regular
    /// files and directories only, links and special files left out, heavy directories too.
    /// Answers the number of files copied.
    public func copyTree(_ path: WorkspacePath, to destination: String) throws -> Int {
        let source = try openDirectory(path)
        guard mkdir(destination, 0o755) == 0 || errno == EEXIST else { throw FileAPIError.system("mkdir", errno, path) }
        let target = Glibc.open(destination, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard target >= 0 else { throw FileAPIError.system("open", errno, path) }
        let targetFD = FileDescriptor(target)
        var copied = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 18)
        func copy(_ from: Int32, _ to: Int32) throws {
            for entry in DirectoryEntry.read(from) {
                if entry.isDirectory {
                    guard !HeavyDirectories.contains(entry.name), let child = DirectoryEntry.openDirectory(from, entry.name) else { continue }
                    guard mkdirat(to, entry.name, 0o755) == 0 || errno == EEXIST,
                          let made = DirectoryEntry.openDirectory(to, entry.name) else { throw FileAPIError.system("mkdirat", errno, path) }
                    try copy(child.raw, made.raw)
                } else if entry.isRegular {
                    let input = openat(from, entry.name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
                    guard input >= 0 else { continue }
                    let inputFD = FileDescriptor(input)
                    let output = openat(to, entry.name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
                    guard output >= 0 else { throw FileAPIError.system("openat", errno, path) }
                    let outputFD = FileDescriptor(output)
                    // Holes stay holes: the copy costs the host what the file holds, not its length.
                    let code = SparseCopy.copy(from: inputFD.raw, to: outputFD.raw, buffer: &buffer)
                    guard code == 0 else { throw FileAPIError.system("write", code, path) }
                    copied += 1
                }
            }
        }
        try copy(source.raw, targetFD.raw)
        return copied
    }
}
