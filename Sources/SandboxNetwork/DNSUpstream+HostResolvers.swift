import Glibc
import SandboxRuntime

extension DNSUpstream {
    /// The host's own resolvers: the `nameserver` lines of `/etc/resolv.conf`, loopback stubs
    /// (127.0.0.53) included, since the host reaches its own loopback. Blocking (one small
    /// file): call it off the cooperative pool. Empty when the file is missing or names none.
    static func hostResolvers(path: String = "/etc/resolv.conf") -> [DNSUpstream] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return [] }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        // resolv.conf is a few hundred bytes; 64 KiB is more than any real one.
        while bytes.count < 65_536 {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += chunk[..<count]
        }
        return parseResolvConf(String(decoding: bytes, as: UTF8.self))
    }

    /// The `nameserver` addresses of a resolv.conf text, in order (glibc uses the first three; so
    /// do we). Scoped IPv6 addresses (`fe80::1%eth0`) and malformed lines are skipped.
    static func parseResolvConf(_ text: String) -> [DNSUpstream] {
        var upstreams: [DNSUpstream] = []
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0] == "nameserver", let address = parseAddress(String(fields[1])) else { continue }
            upstreams.append(DNSUpstream(address: address))
            if upstreams.count == 3 { break }
        }
        return upstreams
    }

    /// `1.2.3.4` or `2001:db8::1` → a whole-length block; nil for anything else.
    static func parseAddress(_ text: String) -> AddressBlock? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return AddressBlock(bytes: withUnsafeBytes(of: v4) { Array($0) }, prefix: 32)
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return AddressBlock(bytes: withUnsafeBytes(of: v6) { Array($0) }, prefix: 128)
        }
        return nil
    }
}
