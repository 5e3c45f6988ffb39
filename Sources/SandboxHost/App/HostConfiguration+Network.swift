import Foundation
import SandboxNetwork
import SandboxRuntime

extension HostConfiguration {
    /// `10.233.0.0/16`: sandboxes' links unless `SANDBOX_HOST_NETWORK_RANGE` says otherwise.
    public static let defaultNetworkRange = AddressBlock.parse("10.233.0.0/16")!

    /// Reads the network's `SANDBOX_HOST_*` variables (API.md, "Network"). Unlike the other
    /// variables, a bad value is not ignored: it throws a `HostError` naming the variable, and the
    /// host does not start (a typo must not leave sandboxes with a wider network than intended).
    public mutating func readNetworkEnvironment(_ environment: [String: String]) throws {
        if let value = environment["SANDBOX_HOST_NETWORK"] {
            switch value.lowercased() {
            case "on", "1", "true", "yes": networkEnabled = true
            case "off", "0", "false", "no": networkEnabled = false
            default: throw Self.invalid("SANDBOX_HOST_NETWORK", value, "expected on or off")
            }
        }
        if let value = environment["SANDBOX_HOST_NETWORK_DEFAULT"], !value.isEmpty {
            defaultNetworkPolicy = try Self.policy(value)
        }
        if let value = environment["SANDBOX_HOST_NETWORK_RANGE"], !value.isEmpty {
            guard let range = AddressBlock.parse(value), range.isIPv4, value.contains("/") else {
                throw Self.invalid("SANDBOX_HOST_NETWORK_RANGE", value, "expected an IPv4 CIDR block such as 10.233.0.0/16")
            }
            guard (8...24).contains(range.prefix) else {
                throw Self.invalid("SANDBOX_HOST_NETWORK_RANGE", value, "the prefix must be between /8 and /24")
            }
            guard range.isPrivate else {
                throw Self.invalid("SANDBOX_HOST_NETWORK_RANGE", value, "the block must lie inside 10/8, 172.16/12, 192.168/16 or 100.64/10")
            }
            networkRange = range
        }
        if let value = environment["SANDBOX_HOST_NETWORK_ALLOW_PRIVATE"] {
            networkAllowPrivate = try Self.list(value).map { entry in
                guard let block = AddressBlock.parse(entry) else {
                    throw Self.invalid("SANDBOX_HOST_NETWORK_ALLOW_PRIVATE", entry, "expected an address or CIDR block")
                }
                guard block.isPrivate else {
                    throw Self.invalid(
                        "SANDBOX_HOST_NETWORK_ALLOW_PRIVATE", entry,
                        "only blocks inside 10/8, 172.16/12, 192.168/16, 100.64/10 or fc00::/7 can be opened")
                }
                // A block overlapping the sandboxes' own range is fine: the filter drops that
                // range before it looks at these.
                return block
            }
        }
        if let value = environment["SANDBOX_HOST_DNS_UPSTREAM"] {
            dnsUpstream = try Self.list(value).map { entry in
                guard let endpoint = DNSUpstream.parse(entry) else {
                    throw Self.invalid("SANDBOX_HOST_DNS_UPSTREAM", entry, "expected IP, IP:PORT or [IPv6]:PORT")
                }
                return endpoint
            }
        }
    }

    /// A mode name (`open`, `none`, `allowlist`) or a policy object in JSON.
    static func policy(_ value: String) throws -> NetworkPolicy {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let mode = NetworkPolicy.Mode(rawValue: trimmed.lowercased()) { return NetworkPolicy(mode: mode) }
        guard trimmed.hasPrefix("{") else {
            throw invalid("SANDBOX_HOST_NETWORK_DEFAULT", value, "expected open, none, allowlist or a policy object in JSON")
        }
        do {
            return try JSONDecoder().decode(NetworkPolicy.self, from: Data(trimmed.utf8))
        } catch let error as RuntimeError {
            throw HostError(.validation, "SANDBOX_HOST_NETWORK_DEFAULT: \(error.message)")
        } catch {
            throw invalid("SANDBOX_HOST_NETWORK_DEFAULT", value, "not a policy object {\"mode\",\"allow_out\",\"deny_out\"}")
        }
    }

    private static func list(_ value: String) -> [String] {
        value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    private static func invalid(_ variable: String, _ value: String, _ why: String) -> HostError {
        HostError(.validation, "\(variable)=\"\(value.prefix(200))\" is not valid: \(why)")
    }
}
