#if canImport(Glibc)
import Glibc
#endif

/// An open descriptor, closed when the last reference goes: error paths cannot leak it.
public final class FileDescriptor: @unchecked Sendable {
    public let raw: Int32

    public init(_ raw: Int32) { self.raw = raw }

    deinit { close(raw) }

    /// `fstat`; throws for `path` on failure.
    func status(_ path: WorkspacePath) throws -> stat {
        var info = stat()
        guard fstat(raw, &info) == 0 else { throw FileAPIError.system("fstat", errno, path) }
        return info
    }
}
