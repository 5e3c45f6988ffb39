/// One entry of a policy's `allow_out` or `deny_out`: an address block, a domain name, or a
/// wildcard name. Its `description` is the text a client sent, normalised (lower-case names,
/// addresses in canonical form, a lone address without `/32` or `/128`).
public enum NetworkDestination: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// An IPv4 or IPv6 address or CIDR block.
    case block(AddressBlock)
    /// `pypi.org`: that name only.
    case domain(String)
    /// `*.npmjs.org`, stored as `npmjs.org`: one or more labels in front of it, not the name itself.
    case wildcard(String)

    public var description: String {
        switch self {
        case .block(let block): return block.description
        case .domain(let name): return name
        case .wildcard(let suffix): return "*." + suffix
        }
    }
}
