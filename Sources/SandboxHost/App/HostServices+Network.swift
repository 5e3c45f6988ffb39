import Logging
import SandboxNetwork
import SandboxRuntime

extension HostServices {
    /// The sandboxes' network, or nil (loopback only) when switched off or unusable here.
    ///
    /// MERGE(netpolicy): read `configuration.networkEnabled`, the range, `allowPrivate` and the
    /// DNS upstreams from HostConfiguration once it has them; until then the two variables that
    /// matter here are read from the environment (`SANDBOX_HOST_NETWORK`: on unless `off`;
    /// `SANDBOX_HOST_NETWORK_RANGE`: default 10.233.0.0/16; `SANDBOX_HOST_NETWORK_POOL`: ready
    /// namespaces, 0-64, default 4).
    /// The second value is the network's health: ok when on or switched off, degraded (with the
    /// reason) when on but unusable here.
    static func startNetwork(
        _ configuration: HostConfiguration, defaultPolicy: NetworkPolicy, environment: [String: String], logger: Logger
    ) -> (NetworkManager?, Capability) {
        if ["0", "off", "false", "no"].contains(environment["SANDBOX_HOST_NETWORK"]?.lowercased() ?? "on") {
            return (nil, Capability(name: "network", status: .ok, detail: "switched off (SANDBOX_HOST_NETWORK=off): sandboxes have loopback only", fix: ""))
        }
        let range = networkRange(environment)
        var network = NetworkConfiguration(range: range, instanceKey: SandboxRuntime.instanceKey(configuration.dataDir))
        network.defaultPolicy = defaultPolicy
        if let size = environment["SANDBOX_HOST_NETWORK_POOL"].flatMap(Int.init), (0...64).contains(size) { network.poolSize = size }
        let (manager, reason) = NetworkManager.startIfUsable(configuration: network, dataDir: configuration.dataDir, logger: logger)
        if let manager {
            return (manager, Capability(
                name: "network", status: .ok, detail: "sandboxes have a network: range \(range), resolver \(manager.resolverAddress)", fix: ""))
        }
        if reason == "no packet filter in this build" {
            return (nil, Capability(name: "network", status: .ok, detail: "not in this build: sandboxes have loopback only", fix: ""))
        }
        return (nil, Capability(
            name: "network", status: .degraded, detail: "unusable here, sandboxes have loopback only: \(reason)",
            fix: "see `sandbox-host doctor`, or set SANDBOX_HOST_NETWORK=off"))
    }

    /// `SANDBOX_HOST_NETWORK_RANGE`, default 10.233.0.0/16.
    static func networkRange(_ environment: [String: String]) -> AddressBlock {
        environment["SANDBOX_HOST_NETWORK_RANGE"].flatMap(ipv4Block) ?? AddressBlock(bytes: [10, 233, 0, 0], prefix: 16)!
    }

    /// `a.b.c.d/n` (MERGE(netpolicy): AddressBlock.parse).
    static func ipv4Block(_ text: String) -> AddressBlock? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let prefix = Int(parts[1]) else { return nil }
        let octets = parts[0].split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
        guard octets.count == 4 else { return nil }
        return AddressBlock(bytes: octets, prefix: prefix)
    }
}
