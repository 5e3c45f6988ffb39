import SandboxRuntime

/// One sandbox's link to the host: the host end of its veth pair, and the two addresses of the
/// small block it was given (the sandbox's, and the gateway on the host end).
struct SandboxLink: Sendable, Hashable {
    /// The link's slot in the range: its block is the range's `slot`-th, after the resolver's.
    let slot: Int
    /// The host end's interface name (at most 15 bytes; starts with the instance's prefix).
    let hostInterface: String
    /// IPv4, 4 bytes each.
    let address: [UInt8]
    let gateway: [UInt8]
    /// Which attachment of the slot this is (NetworkManager counts them up from 1): the filter
    /// ignores an update or allow for a generation that is no longer the slot's.
    var generation: UInt64 = 0
}
