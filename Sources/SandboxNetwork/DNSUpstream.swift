import SandboxRuntime

/// An upstream DNS server of the sandboxes' resolver: an address and a port (53 unless given),
/// as `SANDBOX_HOST_DNS_UPSTREAM` lists them (`IP`, `IP:PORT`, `[v6]:PORT`).
public struct DNSUpstream: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// A single address (prefix 32 or 128).
    public var address: AddressBlock
    public var port: Int

    public init(address: AddressBlock, port: Int = 53) {
        self.address = address
        self.port = port
    }

    /// Parses `192.0.2.53`, `192.0.2.53:5353`, `2001:db8::53`, `[2001:db8::53]:5353` (port 53
    /// when none is given). Nil for anything else: a block, a name, a port outside 1…65535.
    public static func parse(_ text: String, defaultPort: Int = 53) -> DNSUpstream? {
        var host = Substring(text), port = defaultPort
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let value = Self.port(rest.dropFirst()) else { return nil }
                port = value
            }
            guard host.contains(":") else { return nil }
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            host = text[..<colon]
            guard let value = Self.port(text[text.index(after: colon)...]) else { return nil }
            port = value
        }
        guard !host.contains("/"), let address = AddressBlock.parse(String(host)) else { return nil }
        return DNSUpstream(address: address, port: port)
    }

    private static func port(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 5, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let value = Int(text),
              (1...65_535).contains(value) else { return nil }
        return value
    }

    /// `192.0.2.53:53`, `[2001:db8::53]:53`.
    public var description: String { address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)" }
}
