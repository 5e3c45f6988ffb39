#if canImport(Glibc)
import Glibc
#endif

/// The end of each command's output in a session's log, for `status`: at most `limit` bytes per
/// command, read in chunks (blocking: run it on a thread pool).
public enum SessionLogTail {
    public static let limit = 64 << 10

    public static func read(_ session: Session, limit: Int = limit) -> [String: String] {
        var tails: [String: [UInt8]] = [:]
        for (fd, end) in session.openSegments() {
            defer { close(fd) }
            _ = SessionLogScanner.scan(fd, from: 0, to: end) { record in
                guard record.kind == .stdout || record.kind == .stderr else { return true }
                tails[record.commandID, default: []].append(contentsOf: record.body.suffix(limit))
                // Trimmed in steps of `limit`, so keeping the last `limit` bytes stays linear.
                if let count = tails[record.commandID]?.count, count > 2 * limit {
                    tails[record.commandID]?.removeFirst(count - limit)
                }
                return true
            }
        }
        return tails.mapValues { bytes in
            var tail = bytes.suffix(limit)
            // Cut where a character starts, not inside one.
            while let first = tail.first, first & 0xC0 == 0x80, bytes.count > limit, tail.count > limit - 3 { tail = tail.dropFirst() }
            return String(decoding: tail, as: UTF8.self)
        }
    }
}
