/// The one error type of the `FileAPI` module: a `Kind` the HTTP layer maps to a status, a
/// message safe to show a client (no host path), and the cause for logs.
public struct FileAPIError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The client's path is not acceptable (400).
        case invalidPath
        /// The request cannot be carried out as asked: a directory where a file is needed, a
        /// malformed archive (400).
        case invalidRequest
        /// Nothing there (404).
        case notFound
        /// The target exists in a way that forbids the operation: a non-empty directory (409).
        case conflict
        /// Over a configured size cap (413).
        case tooLarge
        /// The workspace's disk quota would be exceeded (507).
        case quotaExceeded
        /// Anything else (500).
        case failure
    }

    public let kind: Kind
    public let message: String
    public let cause: (any Error)?

    public init(_ message: String, kind: Kind = .failure, cause: (any Error)? = nil) {
        self.kind = kind
        self.message = message
        self.cause = cause
    }

    static func invalidPath(_ message: String) -> FileAPIError { FileAPIError(message, kind: .invalidPath) }
    static func invalidRequest(_ message: String) -> FileAPIError { FileAPIError(message, kind: .invalidRequest) }
    static func notFound(_ path: WorkspacePath) -> FileAPIError { FileAPIError("\(path) not found", kind: .notFound) }

    /// The `errno` of a failed call on `path`, as the kind a client should see.
    static func system(_ call: String, _ code: Int32, _ path: WorkspacePath) -> FileAPIError {
        let cause = FileSystemFailure(call: call, code: code)
        switch code {
        case ENOENT: return FileAPIError("\(path) not found", kind: .notFound, cause: cause)
        case ENOTDIR: return FileAPIError("a parent of \(path) is not a directory", kind: .notFound, cause: cause)
        case EISDIR: return FileAPIError("\(path) is a directory", kind: .invalidRequest, cause: cause)
        case ENOTEMPTY, EEXIST: return FileAPIError("\(path) already exists and is not empty", kind: .conflict, cause: cause)
        case ELOOP, EXDEV: return FileAPIError("\(path) cannot be resolved inside /workspace", kind: .invalidPath, cause: cause)
        case ENAMETOOLONG: return FileAPIError("\(path) is too long", kind: .invalidPath, cause: cause)
        case EINVAL: return FileAPIError("\(path): invalid operation", kind: .invalidRequest, cause: cause)
        case ENOSPC, EDQUOT: return FileAPIError("no space left for \(path)", kind: .quotaExceeded, cause: cause)
        default: return FileAPIError("cannot access \(path)", cause: cause)
        }
    }

    public var description: String { cause.map { "\(message) (cause: \($0))" } ?? message }
}

#if canImport(Glibc)
import Glibc
#endif
