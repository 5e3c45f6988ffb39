import CSandbox
#if canImport(Glibc)
import Glibc
#endif

/// An open workspace directory; every file operation goes through `open`, where the kernel
/// resolves the path with the workspace as `/` (`RESOLVE_IN_ROOT`, no magic links): `..`,
/// absolute symlinks and symlinked parents all stay inside, whatever is swapped in meanwhile.
///
/// Thread-safe (the descriptor is only read); owns and closes it.
public final class WorkspaceRoot: Sendable {
    private let fd: Int32

    public init(path: String) throws {
        let fd = Glibc.open(path, CSB_O_PATH | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileAPIError("cannot open the workspace", cause: FileSystemFailure(call: "open", code: errno)) }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Opens `path` inside the workspace with `flags` (O_RDONLY, O_WRONLY|O_CREAT, O_DIRECTORY, …).
    /// Answers a descriptor the caller closes. A missing file is `.notFound`; a lookup the kernel
    /// refuses as leaving the root is `.invalidPath`.
    public func open(_ path: WorkspacePath, flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        let resolve = UInt64(CSB_RESOLVE_IN_ROOT | CSB_RESOLVE_NO_MAGICLINKS)
        let result = csb_openat2(fd, path.relative, flags, UInt32(mode), resolve)
        guard result >= 0 else {
            let code = errno
            let failure = FileSystemFailure(call: "openat2", code: code)
            switch code {
            case ENOENT, ENOTDIR: throw FileAPIError("\(path) not found", kind: .notFound, cause: failure)
            case EXDEV, ELOOP: throw FileAPIError("\(path) cannot be resolved inside /workspace", kind: .invalidPath, cause: failure)
            default: throw FileAPIError("cannot open \(path)", cause: failure)
            }
        }
        return result
    }
}

/// A failed system call, as a `FileAPIError`'s cause.
public struct FileSystemFailure: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let code: Int32
    public var description: String { "\(call): \(String(cString: strerror(code)))" }
}
