import CSandbox
import Foundation
import SandboxRuntime
#if canImport(Glibc)
import Glibc
#endif

/// The kernel side of links: namespaces, veth pairs, the resolver's address, sysctls, host
/// routes. Every call blocks briefly (netlink exchanges bounded at 2 s each, small /proc files):
/// callers run them on a thread of their own, never on the cooperative pool.
enum KernelLinks {
    /// A namespace at `namespacePath` and a veth pair into it, addressed and routed as `link`
    /// says; the host end forwards, and drops what does not come from its own block (rp_filter).
    static func create(_ link: SandboxLink, namespacePath: String) throws {
        _ = csb_netns_remove(namespacePath)  // a leftover of a crashed run with this slot
        let made = csb_netns_create(namespacePath)
        guard made == 0 else { throw NetworkError.system("network namespace \(namespacePath)", made) }
        var stage: UnsafePointer<CChar>?
        let linked = csb_link_create(namespacePath, link.hostInterface, link.address, link.gateway, Int32(AddressPlan.linkPrefix), &stage)
        guard linked == 0 else {
            let step = stage.map { String(cString: $0) } ?? "link"
            _ = csb_link_delete(link.hostInterface)
            _ = csb_netns_remove(namespacePath)
            throw NetworkError.system("link \(link.hostInterface) (\(step))", linked)
        }
        let interface = link.hostInterface
        // Forwarding on the host end: the packets a sandbox sends arrive here and go on to the
        // uplink. IPv4 decides per incoming interface, so this and the uplinks' (below) suffice;
        // the host's global ip_forward is left alone. Strict rp_filter: only its own block's
        // source addresses arrive (the filter checks the exact address too). No IPv6 at all.
        try? writeSysctl("ipv4/conf/\(interface)/rp_filter", "1")
        try? writeSysctl("ipv6/conf/\(interface)/disable_ipv6", "1")
        do {
            try writeSysctl("ipv4/conf/\(interface)/forwarding", "1")
        } catch {
            remove(link, namespacePath: namespacePath)
            throw error
        }
    }

    /// The link (its peer goes with it) and the namespace file go, errors ignored (cleanup).
    static func remove(_ link: SandboxLink, namespacePath: String) {
        _ = csb_link_delete(link.hostInterface)
        _ = csb_netns_remove(namespacePath)
    }

    /// The same, a failure thrown (the slot is then not reused). Absent ones are fine.
    static func removeChecked(_ link: SandboxLink, namespacePath: String) throws {
        let deleted = csb_link_delete(link.hostInterface)
        guard deleted == 0 || deleted == -ENODEV else { throw NetworkError.system("delete link \(link.hostInterface)", deleted) }
        let removed = csb_netns_remove(namespacePath)
        guard removed == 0 else { throw NetworkError.system("remove \(namespacePath)", removed) }
    }

    /// The resolver's address on a dummy interface of this host's, or on `lo` where the kernel
    /// has no dummy interfaces. Answers the interface it went on.
    static func addResolverAddress(_ address: [UInt8], interface: String) throws -> String {
        let made = csb_dummy_create(interface, address)
        if made == 0 { return interface }
        _ = csb_link_delete(interface)
        guard made == -EOPNOTSUPP else { throw NetworkError.system("resolver interface \(interface)", made) }
        let added = csb_address_add("lo", address, 32)
        guard added == 0 else { throw NetworkError.system("resolver address on lo", added) }
        return "lo"
    }

    static func removeResolverAddress(_ address: [UInt8], interface: String) {
        _ = csb_link_delete(interface)
        _ = csb_address_delete("lo", address, 32)
    }

    /// Every interface of the host's namespace (`/sys/class/net`).
    static func interfaces() -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: "/sys/class/net")) ?? []
    }

    /// Removes what a crashed run of this host left: its links, and its namespace files.
    static func sweep(names: LinkNames, namespaceDirectory: String, resolver: [UInt8]) -> Int {
        var removed = 0
        for name in interfaces() where names.owns(name) {
            if csb_link_delete(name) == 0 { removed += 1 }
        }
        _ = csb_address_delete("lo", resolver, 32)
        for file in (try? FileManager.default.contentsOfDirectory(atPath: namespaceDirectory)) ?? [] {
            if csb_netns_remove(namespaceDirectory + "/" + file) == 0 { removed += 1 }
        }
        return removed
    }

    /// A host route (main table, IPv4) overlapping `range`, as `interface destination/prefix`;
    /// nil when none. The default route and this host's own links are not counted.
    static func overlappingRoute(_ range: AddressBlock, names: LinkNames) -> String? {
        guard let table = readProcFile("/proc/net/route") else { return nil }
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 8, let destination = UInt32(fields[1], radix: 16), let mask = UInt32(fields[7], radix: 16) else { continue }
            let interface = String(fields[0])
            let prefix = mask.nonzeroBitCount
            guard prefix > 0, !names.owns(interface) else { continue }
            // /proc/net/route prints the addresses as the kernel holds them: network order, read
            // as a little-endian number.
            let bytes = AddressPlan.bytes(UInt32(bigEndian: destination))
            guard let route = AddressBlock(bytes: bytes, prefix: prefix) else { continue }
            if route.contains(range.bytes) || range.contains(route.bytes) {
                return "\(interface) \(route)"
            }
        }
        return nil
    }

    /// Forwarding on every interface the host routes through (not this host's links, not lo),
    /// so replies coming back from the uplink are forwarded to the sandboxes. Interfaces made
    /// later are picked up at the next slot's preparation.
    static func enableUplinkForwarding(names: LinkNames) -> [String] {
        guard let table = readProcFile("/proc/net/route") else { return [] }
        var enabled: [String] = []
        for interface in Set(table.split(separator: "\n").dropFirst().compactMap({ $0.split(separator: "\t").first.map(String.init) }))
        where interface != "lo" && !names.owns(interface) && !interface.contains("/") && !interface.hasPrefix(".") {
            let path = "ipv4/conf/\(interface)/forwarding"
            if (try? readSysctl(path)) == "0", (try? writeSysctl(path, "1")) != nil { enabled.append(interface) }
        }
        return enabled
    }

    /// Forwarding off again on `interfaces` (those `enableUplinkForwarding` switched on), at stop.
    static func restoreForwarding(_ interfaces: [String]) {
        for interface in interfaces where !interface.contains("/") && !interface.hasPrefix(".") {
            try? writeSysctl("ipv4/conf/\(interface)/forwarding", "0")
        }
    }

    /// Whether another sandbox host runs on this machine (its resolver interface, `sb<6 hex>dns`,
    /// is there): its sandboxes' replies need the uplinks' forwarding, which is then left on.
    static func otherInstanceRunning(names: LinkNames) -> Bool {
        interfaces().contains { name in
            guard name.hasPrefix("sb"), name.hasSuffix("dns"), name.utf8.count == 11, !names.owns(name) else { return false }
            return name.dropFirst(2).dropLast(3).allSatisfy(\.isHexDigit)
        }
    }

    /// Whether the kernel's network settings can be written here (not a read-only /proc/sys).
    static func sysctlWritable() -> Bool {
        access("/proc/sys/net/ipv4/conf/all/forwarding", W_OK) == 0
    }

    static func readSysctl(_ name: String) throws -> String {
        guard let text = readProcFile("/proc/sys/net/" + name) else { throw NetworkError.system("sysctl net/\(name)", errno) }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A /proc file's text (its size reads as 0: read to the end), at most `limit` bytes.
    static func readProcFile(_ path: String, limit: Int = 4 << 20) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while bytes.count < limit {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func writeSysctl(_ name: String, _ value: String) throws {
        let fd = open("/proc/sys/net/" + name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw NetworkError.system("sysctl net/\(name)", errno) }
        defer { close(fd) }
        let written = value.withCString { write(fd, $0, strlen($0)) }
        guard written == value.utf8.count else { throw NetworkError.system("sysctl net/\(name)", errno) }
    }
}
