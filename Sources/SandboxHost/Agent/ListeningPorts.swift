import Foundation

/// TCP ports something listens on in a process's network namespace, read from its
/// `/proc/PID/net/tcp` and `tcp6` (the kernel's view of that namespace, not the host's).
enum ListeningPorts {
    static func read(pid: Int32) -> Set<Int> {
        var ports = Set<Int>()
        for file in ["tcp", "tcp6"] {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/net/\(file)", encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                // local_address is HEX_IP:HEX_PORT; state 0A is LISTEN.
                guard fields.count > 3, fields[3] == "0A", let colon = fields[1].lastIndex(of: ":"),
                      let port = Int(fields[1][fields[1].index(after: colon)...], radix: 16) else { continue }
                ports.insert(port)
            }
        }
        return ports
    }
}
