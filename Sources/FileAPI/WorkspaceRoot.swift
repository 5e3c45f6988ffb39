import CSandbox
#if canImport(Glibc)
import Glibc
#endif

/// An open workspace directory: every file operation resolves its path here, one component at
/// a time, each component opened by the kernel beneath the directory before it
/// (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`). Symlinks are never followed by the
/// kernel; `resolve` reads them and follows them itself the way the sandbox would see them, with
/// `/workspace` as the limit: `/workspace/x` means the workspace's `x`, any other absolute target
/// and any `..` above the workspace are refused. A symlink swapped in mid-request is met by
/// `O_NOFOLLOW` and refused, so nothing outside is ever reached.
///
/// Thread-safe (the descriptor is only read); owns and closes it. New files and directories get
/// the owner of the workspace directory (the sandbox's root once a sandbox has used it).
public final class WorkspaceRoot: Sendable {
    let fd: Int32
    public let ownerUID: uid_t
    public let ownerGID: gid_t

    /// Levels below its start a recursive walk (tree, search, download) shows at most, as the
    /// contract says; deeper entries are left out and the answer says `truncated`.
    public static let defaultMaxDepth = 256

    /// Symlinks followed in one lookup before giving up, as the kernel's limit.
    static let maxSymlinkHops = 40
    /// Levels below the workspace a lookup goes down at most, levels reached through links
    /// included: it holds a descriptor per level (40 hops of 2,047 components would hold 80,000).
    /// Deeper is refused (400); walks stop at `defaultMaxDepth` anyway.
    static let maxLookupLevels = 512
    static let beneath = UInt64(CSB_RESOLVE_BENEATH | CSB_RESOLVE_NO_SYMLINKS | CSB_RESOLVE_NO_MAGICLINKS)

    public init(path: String) throws {
        let fd = Glibc.open(path, CSB_O_PATH | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileAPIError("cannot open the workspace", cause: FileSystemFailure(call: "open", code: errno)) }
        var info = stat()
        fstat(fd, &info)
        self.fd = fd
        self.ownerUID = info.st_uid
        self.ownerGID = info.st_gid
    }

    deinit { close(fd) }

    /// Where a path leads: a directory and a name in it (`nil`: the directory itself).
    struct Location {
        let directory: FileDescriptor
        let name: String?
    }

    /// Resolves every component of `path` but the last (and the last too when `followFinal`),
    /// following symlinks as the sandbox would. With `createParents`, missing directories on the
    /// way are made (owned like the workspace). The last component need not exist. One descriptor
    /// is held per level down, `maxLookupLevels` at most.
    func resolve(_ path: WorkspacePath, followFinal: Bool, createParents: Bool = false) throws -> Location {
        var stack = [try duplicateRoot(path)]
        var pending = Array(path.components.reversed())
        var hops = 0
        while let component = pending.popLast() {
            if component.isEmpty || component == "." { continue }
            if component == ".." {
                guard stack.count > 1 else { throw FileAPIError.invalidPath("\(path) leads outside /workspace") }
                stack.removeLast()
                continue
            }
            let isLast = pending.isEmpty
            let parent = stack[stack.count - 1]
            if isLast && !followFinal { return Location(directory: parent, name: component) }
            var child = csb_openat2(parent.raw, component, CSB_O_PATH | O_NOFOLLOW, 0, Self.beneath)
            if child < 0 && errno == ENOENT {
                if isLast { return Location(directory: parent, name: component) }
                guard createParents else { throw FileAPIError.notFound(path) }
                if mkdirat(parent.raw, component, 0o755) == 0 {
                    fchownat(parent.raw, component, ownerUID, ownerGID, AT_SYMLINK_NOFOLLOW)
                } else if errno != EEXIST {
                    throw FileAPIError.system("mkdirat", errno, path)
                }
                child = csb_openat2(parent.raw, component, CSB_O_PATH | O_NOFOLLOW, 0, Self.beneath)
            }
            guard child >= 0 else { throw FileAPIError.system("openat2", errno, path) }
            let handle = FileDescriptor(child)
            let info = try handle.status(path)
            switch info.st_mode & S_IFMT {
            case S_IFLNK:
                hops += 1
                guard hops <= Self.maxSymlinkHops else { throw FileAPIError.invalidPath("\(path): too many levels of symbolic links") }
                let target = try Self.readLink(handle, path)
                var components = target.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
                if target.hasPrefix("/") {
                    // The sandbox sees the workspace at /workspace; anything else absolute is outside.
                    guard components.first == "workspace" else {
                        throw FileAPIError.invalidPath("\(path) is a symbolic link that leads outside /workspace")
                    }
                    components.removeFirst()
                    stack.removeSubrange(1...)
                }
                pending.append(contentsOf: components.reversed())
            case S_IFDIR:
                if isLast { return Location(directory: handle, name: nil) }
                guard stack.count <= Self.maxLookupLevels else {
                    throw FileAPIError.invalidPath("\(path) leads more than \(Self.maxLookupLevels) levels deep")
                }
                stack.append(handle)
            default:
                if isLast { return Location(directory: parent, name: component) }
                throw FileAPIError("a parent of \(path) is not a directory", kind: .notFound)
            }
        }
        return Location(directory: stack[stack.count - 1], name: nil)
    }

    /// Opens `path` inside the workspace with `flags` (O_RDONLY, O_WRONLY|O_CREAT, O_DIRECTORY, …),
    /// following symlinks as the sandbox would. A missing file is `.notFound`; a path that leads
    /// outside is `.invalidPath`.
    public func open(_ path: WorkspacePath, flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        let location = try resolve(path, followFinal: true)
        return try Self.open(location, flags: flags, mode: mode, path)
    }

    /// Opens the final component of `location` itself, never through a symlink.
    static func open(_ location: Location, flags: Int32, mode: mode_t = 0o644, _ path: WorkspacePath) throws -> Int32 {
        let result = csb_openat2(location.directory.raw, location.name ?? ".", flags | O_NOFOLLOW, UInt32(mode), beneath)
        guard result >= 0 else { throw FileAPIError.system("openat2", errno, path) }
        return result
    }

    private func duplicateRoot(_ path: WorkspacePath) throws -> FileDescriptor {
        let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else { throw FileAPIError.system("dup", errno, path) }
        return FileDescriptor(copy)
    }

    static func readLink(_ handle: FileDescriptor, _ path: WorkspacePath) throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = buffer.withUnsafeMutableBufferPointer { readlinkat(handle.raw, "", $0.baseAddress!, $0.count) }
        guard count >= 0 else { throw FileAPIError.system("readlinkat", errno, path) }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `readlinkat` of `name` in `directory`; nil if it is not a link.
    static func readLink(in directory: Int32, _ name: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = buffer.withUnsafeMutableBufferPointer { readlinkat(directory, name, $0.baseAddress!, $0.count) }
        return count >= 0 ? String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
    }
}

/// A failed system call, as a `FileAPIError`'s cause.
public struct FileSystemFailure: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let code: Int32
    public var description: String { "\(call): \(String(cString: strerror(code)))" }
}
