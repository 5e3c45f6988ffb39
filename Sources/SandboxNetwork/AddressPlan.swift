import SandboxRuntime

/// How the range is cut: /30 blocks; block 0's first host address is the resolver's, block n
/// (n >= 1, a link's slot) gives the gateway (.1 of the block, the host end) and the sandbox's
/// address (.2). Pure arithmetic.
struct AddressPlan: Sendable, Equatable {
    static let linkPrefix = 30
    /// The most slots a range gives, whatever its size (a name holds the slot in 7 hex digits;
    /// this bound keeps the pool's bookkeeping small).
    static let maxSlots = 65_535

    let range: AddressBlock
    /// Slots 1...slotCount exist.
    let slotCount: Int
    private let base: UInt32

    /// Nil unless `range` is IPv4 with room for the resolver's block and one slot (/29 or wider).
    init?(range: AddressBlock) {
        guard range.isIPv4, range.prefix >= 1, range.prefix <= 29 else { return nil }
        self.range = range
        self.base = range.bytes.reduce(0) { $0 << 8 | UInt32($1) }
        self.slotCount = min((1 << (30 - range.prefix)) - 1, Self.maxSlots)
    }

    var resolver: [UInt8] { Self.bytes(base + 1) }

    func gateway(slot: Int) -> [UInt8] { Self.bytes(base + UInt32(slot) * 4 + 1) }

    func address(slot: Int) -> [UInt8] { Self.bytes(base + UInt32(slot) * 4 + 2) }

    static func bytes(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    static func text(_ bytes: [UInt8]) -> String { bytes.map(String.init).joined(separator: ".") }
}

/// This host's kernel object names: `sb` and the first 6 hex digits of its instance key, then the
/// slot in hex (a link's host end) or `dns` (the resolver's interface); at most 15 bytes.
struct LinkNames: Sendable, Equatable {
    let prefix: String

    init(instanceKey: String) {
        prefix = "sb" + String(instanceKey.lowercased().filter(\.isHexDigit).prefix(6))
    }

    func hostInterface(slot: Int) -> String { prefix + String(slot, radix: 16) }

    var resolverInterface: String { prefix + "dns" }

    /// Whether `name` is one of this host's interfaces (not another host's whose prefix merely
    /// starts the same: the rest is hex digits or `dns`).
    func owns(_ name: String) -> Bool {
        guard name.hasPrefix(prefix) else { return false }
        let rest = name.dropFirst(prefix.count)
        return rest == "dns" || (!rest.isEmpty && rest.allSatisfy(\.isHexDigit))
    }
}
