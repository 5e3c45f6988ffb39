#if canImport(Glibc)
import Glibc
#endif

/// TCP ports something listens on in a process's network namespace, read from its
/// `/proc/PID/net/tcp` and `tcp6` (the kernel's view of that namespace, not the host's).
///
/// Bounded: a sandbox can hold hundreds of thousands of sockets, and these files list every one
/// (~150 bytes each). The kernel lists the listening sockets first (`tcp_seq_start` walks the
/// listening hash before the established one), so the read stops at the first line that is not
/// `LISTEN`, and after `maxBytes` whatever comes.
enum ListeningPorts {
    static let maxBytes = 1 << 20

    static func read(pid: Int32) -> Set<Int> {
        var ports = Set<Int>()
        for file in ["tcp", "tcp6"] {
            scan("/proc/\(pid)/net/\(file)") { line in
                let fields = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
                // local_address is HEX_IP:HEX_PORT; state 0A is LISTEN.
                guard fields.count > 3, fields[3].elementsEqual("0A".utf8) else { return false }
                if let colon = fields[1].lastIndex(of: UInt8(ascii: ":")),
                   let port = Int(String(decoding: fields[1][(colon + 1)...], as: UTF8.self), radix: 16) {
                    ports.insert(port)
                }
                return true
            }
        }
        return ports
    }

    /// Calls `body` with each line after the header until it answers false, the file ends, or
    /// `maxBytes` have been read.
    private static func scan(_ path: String, _ body: (ArraySlice<UInt8>) -> Bool) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        var total = 0
        var header = true
        while total < maxBytes {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            total += count
            pending.append(contentsOf: chunk[0..<count])
            var start = pending.startIndex
            while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                defer { start = newline + 1 }
                if header { header = false; continue }
                guard body(pending[start..<newline]) else { return }
            }
            pending.removeSubrange(..<start)
        }
    }
}
