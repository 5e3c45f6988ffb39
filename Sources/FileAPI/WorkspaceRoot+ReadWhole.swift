#if canImport(Glibc)
import Glibc
#endif

extension WorkspaceRoot {
    /// The whole of the file at `path` (links followed as the sandbox sees them, as
    /// `openForReading`), if it holds at most `maxBytes`; else `tooLarge` with its size, for the
    /// caller to say what to use instead. A file that shrinks while read answers what it held.
    public func readWhole(_ path: WorkspacePath, maxBytes: Int64) throws -> WholeFile {
        let (file, size, _) = try openForReading(path)
        guard size <= maxBytes else { return .tooLarge(size: size) }
        var bytes = [UInt8](repeating: 0, count: Int(size))
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeMutableBytes { pread(file.raw, $0.baseAddress! + done, $0.count - done, off_t(done)) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            done += count
        }
        return .bytes(Array(bytes[..<done]))
    }
}
