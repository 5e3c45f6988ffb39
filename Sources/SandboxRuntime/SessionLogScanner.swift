#if canImport(Glibc)
import Glibc
#endif

/// Reads `SessionRecord`s from a log file in chunks: memory stays at one chunk (or one record,
/// when a record is longer), however long the file.
enum SessionLogScanner {
    static let chunkBytes = 256 << 10

    struct Stop: Sendable {
        /// Where reading stopped: after the last record visited, or at the first malformed one.
        var offset: Int
        /// A malformed or torn record was met before `end`.
        var corrupt: Bool
    }

    /// Visits the whole records from `offset` up to `end`, in order, until `visit` answers false
    /// (after which `offset` is past the record it was given).
    static func scan(_ fd: Int32, from offset: Int, to end: Int, visit: (SessionRecord) -> Bool) -> Stop {
        var offset = offset
        var chunk = [UInt8](repeating: 0, count: min(chunkBytes, max(0, end - offset)))
        while offset < end {
            let want = min(chunk.count, end - offset)
            let count = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(offset)) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return Stop(offset: offset, corrupt: true) }
            var position = 0
            var stopped = false
            let outcome = chunk.withUnsafeBytes { raw -> (needs: Int?, corrupt: Bool) in
                let bytes = UnsafeRawBufferPointer(rebasing: raw[0..<count])
                while position < count {
                    guard position + 4 <= count else { return (SessionRecord.overhead, false) }
                    guard let length = SessionRecord.length(bytes, at: position) else { return (nil, true) }
                    guard position + length <= count else { return (length, false) }
                    guard let record = SessionRecord.decode(bytes, at: position) else { return (nil, true) }
                    position += length
                    if !visit(record) {
                        stopped = true
                        return (nil, false)
                    }
                }
                return (nil, false)
            }
            offset += position
            if stopped { return Stop(offset: offset, corrupt: false) }
            if outcome.corrupt { return Stop(offset: offset, corrupt: true) }
            // A regular file reads short only at its end: nothing more is coming.
            if position == 0 && count < want { return Stop(offset: offset, corrupt: true) }
            if let needs = outcome.needs {
                // A record runs past the chunk: past the end of what may be read means torn.
                guard offset + needs <= end else { return Stop(offset: offset, corrupt: true) }
                if needs > chunk.count { chunk = [UInt8](repeating: 0, count: needs) }
            }
        }
        return Stop(offset: offset, corrupt: false)
    }

    /// The size of a file.
    static func size(_ fd: Int32) -> Int {
        var info = stat()
        return fstat(fd, &info) == 0 ? Int(info.st_size) : 0
    }

    /// Writes all of `bytes` at the end of `fd` (opened `O_APPEND`); false if the disk refused.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let count = write(fd, raw.baseAddress! + done, raw.count - done)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return false }
                done += count
            }
            return true
        }
    }
}
