import CNftables
import Foundation
import SandboxRuntime
import Synchronization

/// What sandbox networking needs from this machine (doctor, the deep health check): writable
/// network settings (forwarding), nftables through libnftables, NAT in nftables, and a range no
/// host route uses. A gap costs sandboxes their network (loopback only), not their start:
/// `degraded`, never `critical`. Blocking (nft, /proc): the health check asks `NetworkProbeCache`.
public enum NetworkProbe {
    /// How many times `run` ran, per instance key (tests).
    static let runs = Mutex<[String: Int]>([:])
    private static let probeNumber = Atomic<Int>(0)

    public static func run(range: AddressBlock, instanceKey: String) -> [Capability] {
        runs.withLock { $0[instanceKey, default: 0] += 1 }
        var checks: [Capability] = []
        if KernelLinks.sysctlWritable() {
            checks.append(Capability(name: "forwarding", status: .ok, detail: "network settings writable (per-link forwarding)", fix: ""))
        } else {
            checks.append(Capability(
                name: "forwarding", status: .degraded, detail: "/proc/sys/net is read-only: links cannot forward",
                fix: "run the host with a writable /proc/sys (not in a container that mounts it read-only), or set SANDBOX_HOST_NETWORK=off"))
        }
        // A name of this probe's own: probes of other hosts (or a doctor run) beside it never
        // make or delete each other's table.
        let table = "sandbox_host_probe_\(getpid())_\(probeNumber.add(1, ordering: .relaxed).newValue)"
        // A throwaway table with a NAT chain: both nftables and its NAT support, in one call.
        let nat = nft("add table ip \(table)\nadd chain ip \(table) postrouting { type nat hook postrouting priority 100; }\n")
        _ = nft("delete table ip \(table)\n")
        if let error = nft("list tables\n") {
            checks.append(Capability(
                name: "nftables", status: .degraded, detail: "libnftables failed: \(error)",
                fix: "install nftables (apt install nftables) and run as root with CAP_NET_ADMIN"))
        } else {
            checks.append(Capability(name: "nftables", status: .ok, detail: "libnftables answers", fix: ""))
        }
        if let nat {
            checks.append(Capability(
                name: "nat", status: .degraded, detail: "an nftables NAT chain cannot be made: \(nat)",
                fix: "load the kernel's nf_nat / nft_chain_nat support (modprobe nft_chain_nat)"))
        } else {
            checks.append(Capability(name: "nat", status: .ok, detail: "nftables NAT available", fix: ""))
        }
        if let route = KernelLinks.overlappingRoute(range, names: LinkNames(instanceKey: instanceKey)) {
            checks.append(Capability(
                name: "network_range", status: .degraded, detail: "the sandbox range \(range) overlaps the host's route \(route)",
                fix: "set SANDBOX_HOST_NETWORK_RANGE to a private block the host does not use"))
        } else {
            checks.append(Capability(name: "network_range", status: .ok, detail: "\(range) is unused on this host", fix: ""))
        }
        return checks
    }

    /// Runs `commands` through libnftables: nil, or nft's error text.
    static func nft(_ commands: String) -> String? {
        guard let context = nft_ctx_new(UInt32(NFT_CTX_DEFAULT)) else { return "no nftables context" }
        defer { nft_ctx_free(context) }
        _ = nft_ctx_buffer_output(context)
        _ = nft_ctx_buffer_error(context)
        guard nft_run_cmd_from_buffer(context, commands) != 0 else { return nil }
        let error = nft_ctx_get_error_buffer(context).map { String(cString: $0) } ?? ""
        return error.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").first.map(String.init) ?? "failed"
    }
}
