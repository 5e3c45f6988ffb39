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
        let directory = try openDirectory(path)
        return DirectoryEntry.read(directory.raw)
            .map { FileEntry($0, parent: path) }
            .sorted { ($0.isDirectory ? 0 : 1, $0.name.lowercased(), $0.name) < ($1.isDirectory ? 0 : 1, $1.name.lowercased(), $1.name) }
    }

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
