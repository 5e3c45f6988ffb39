import Logging
import SandboxNetwork
import SandboxRuntime

extension HostServices {
    /// The sandboxes' network, or nil (loopback only) when switched off or unusable here. Its
    /// settings come from HostConfiguration (`SANDBOX_HOST_NETWORK`, `_NETWORK_RANGE`,
    /// `_NETWORK_ALLOW_PRIVATE`, `SANDBOX_HOST_DNS_UPSTREAM`); `SANDBOX_HOST_NETWORK_POOL` sets the
    /// namespaces kept ready (0-64, default 4).
    /// The second value is the network's health: ok when on or switched off, degraded (with the
    /// reason) when on but unusable here.
    static func startNetwork(
        _ configuration: HostConfiguration, defaultPolicy: NetworkPolicy, environment: [String: String], logger: Logger
    ) -> (NetworkManager?, Capability) {
        guard configuration.networkEnabled else {
            return (nil, Capability(name: "network", status: .ok, detail: "switched off (SANDBOX_HOST_NETWORK=off): sandboxes have loopback only", fix: ""))
        }
        let range = configuration.networkRange
        var network = NetworkConfiguration(range: range, instanceKey: SandboxRuntime.instanceKey(configuration.dataDir))
        network.defaultPolicy = defaultPolicy
        network.allowPrivate = configuration.networkAllowPrivate
        network.upstream = configuration.dnsUpstream
        if let size = environment["SANDBOX_HOST_NETWORK_POOL"].flatMap(Int.init), (0...64).contains(size) { network.poolSize = size }
        let (manager, reason) = NetworkManager.startIfUsable(configuration: network, dataDir: configuration.dataDir, logger: logger)
        if let manager {
            return (manager, Capability(
                name: "network", status: .ok, detail: "sandboxes have a network: range \(range), resolver \(manager.resolverAddress)", fix: ""))
        }
        return (nil, Capability(
            name: "network", status: .degraded, detail: "unusable here, sandboxes have loopback only: \(reason)",
            fix: "see `sandbox-host doctor`, or set SANDBOX_HOST_NETWORK=off"))
    }
}
