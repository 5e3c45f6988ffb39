#if canImport(Glibc)
import Glibc
#endif

/// One entry of a directory listing (`GET …/files`).
public struct FileEntry: Sendable, Equatable {
    public let name: String
    /// As the sandbox sees it: `/workspace/…`.
    public let path: String
    public let isDirectory: Bool
    public let isSymlink: Bool
    public let size: Int64
    /// Seconds since the epoch.
    public let modificationTime: Double
    /// Octal permission bits, as `0644`.
    public let permissions: String

    init(_ entry: DirectoryEntry, parent: WorkspacePath) {
        name = entry.name
        path = parent.appending(entry.name).description
        isDirectory = entry.isDirectory
        isSymlink = entry.isSymlink
        size = entry.size
        modificationTime = entry.modificationSeconds
        let bits = String(entry.mode & 0o7777, radix: 8)
        permissions = String(repeating: "0", count: max(0, 4 - bits.count)) + bits
    }
}

extension WorkspaceRoot {
    /// The entries of directory `path`, directories first, then by name without regard to case.
    public func list(_ path: WorkspacePath) throws -> [FileEntry] {
        try list(path, limits: ResponseLimits()).entries
    }

    /// The entries of directory `path`, directories first, then by name without regard to case,
    /// as many as `limits` allow: at most `maxEntries` are read (the first the file system gives,
    /// then sorted), and of those the first whose JSON fits in `maxBytes` are kept. `truncated`
    /// says whether that left anything out. A directory of a million files under a path of 4 KB
    /// costs no more than the limits.
    public func list(_ path: WorkspacePath, limits: ResponseLimits) throws -> (entries: [FileEntry], truncated: Bool) {
        let directory = try openDirectory(path)
        let cap = max(0, limits.maxEntries)
        let read = DirectoryEntry.read(directory.raw, limit: cap == .max ? cap : cap + 1)
        var truncated = read.count > cap
        // Each entry's JSON: its name twice (alone and in its path), the parent's path, the rest.
        let parentCost = ResponseLimits.jsonLength(path.description)
        var bytes = 0
        var entries: [FileEntry] = []
        for entry in WorkspaceRoot.sortedForTree(Array(read.prefix(cap))) {
            bytes += Self.listedEntryCost + parentCost + 2 * ResponseLimits.jsonLength(entry.name)
            guard bytes <= limits.maxBytes else { truncated = true; break }
            entries.append(FileEntry(entry, parent: path))
        }
        return (entries, truncated)
    }

    /// The JSON of one listed entry but its name and path: the keys, booleans, size, time, mode.
    static let listedEntryCost = 160

    /// Whether `path` leads (as the sandbox resolves it) to a directory: a lookup, no listing.
    public func isDirectory(_ path: WorkspacePath) -> Bool {
        guard let location = try? resolve(path, followFinal: true) else { return false }
        return location.name == nil
    }

    /// `path`, which must be a directory (400 otherwise, 404 when missing), open for reading.
    func openDirectory(_ path: WorkspacePath) throws -> FileDescriptor {
        let location = try resolve(path, followFinal: true)
        guard let name = location.name else { return location.directory }
        var info = stat()
        guard fstatat(location.directory.raw, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { throw FileAPIError.notFound(path) }
        throw FileAPIError.invalidRequest("\(path) is not a directory")
    }
}
