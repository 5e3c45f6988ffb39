import Foundation
import Glibc
@testable import SandboxNetwork
import SandboxRuntime

/// A tiny network of network namespaces for the packet filter's tests, never touching the
/// machine's own namespace: `H` plays the host (forwarding on, the filter's rules go here),
/// `S` a sandbox (veth to H: 10.201.0.6/30, gateway 10.201.0.5 on H's end, named like a
/// sandbox link), `I` the internet (veth to H: 198.51.100.10, .20, 203.0.113.10,
/// 169.254.169.254 and 168.63.129.16, H has .1 on both /24s), `P` a private network behind H (192.168.77.10).
/// An echo listener on port 8080 runs in I, P and H (every address). Removed by `close`.
final class FilterTestNetwork: @unchecked Sendable {
    static let port = 8080
    static let python = "/usr/bin/python3"
    static let range = AddressBlock(bytes: [10, 201, 0, 0], prefix: 22)!

    let prefix: String
    let key: String
    let link: SandboxLink
    let configuration: NetworkConfiguration
    let filter: NftablesFilter
    let hostNamespace: Int32
    private var listeners: [Process] = []
    private let scratch: URL

    var host: String { prefix + "H" }
    var sandbox: String { prefix + "S" }
    var internet: String { prefix + "I" }
    var lan: String { prefix + "P" }

    init(newConnectionsPerSecond: Int = 100, maxFlowsPerSandbox: Int = 4096, allowPrivate: [AddressBlock] = [],
         conntrack: ConntrackCut = ConntrackCut()) throws {
        let random = String(UInt32.random(in: 0...0xFF_FFFF), radix: 16)
        key = String(repeating: "0", count: 6 - random.count) + random
        prefix = "nft" + key
        link = SandboxLink(slot: 1, hostInterface: "sb\(key)1", address: [10, 201, 0, 6], gateway: [10, 201, 0, 5])
        var configuration = NetworkConfiguration(range: Self.range, instanceKey: key)
        configuration.newConnectionsPerSecond = newConnectionsPerSecond
        configuration.maxFlowsPerSandbox = maxFlowsPerSandbox
        configuration.allowPrivate = allowPrivate
        self.configuration = configuration
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("filter-\(key)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let (H, S, I, P, sb) = (prefix + "H", prefix + "S", prefix + "I", prefix + "P", link.hostInterface)
        let teardown = "for n in \(H) \(S) \(I) \(P); do ip netns del $n 2>/dev/null || true; done"
        try Self.shell("""
        trap '[ $? -eq 0 ] || { \(teardown); }' EXIT
        set -e
        for n in \(H) \(S) \(I) \(P); do ip netns add $n; ip -n $n link set lo up; done
        ip -n \(H) link add \(sb) type veth peer name eth0 netns \(S)
        ip -n \(H) addr add 10.201.0.5/30 dev \(sb)
        ip -n \(H) link set \(sb) up
        ip -n \(S) addr add 10.201.0.6/30 dev eth0
        ip -n \(S) link set eth0 up
        ip -n \(S) route add default via 10.201.0.5
        ip -n \(H) link add up0 type veth peer name eth0 netns \(I)
        ip -n \(H) addr add 198.51.100.1/24 dev up0
        ip -n \(H) addr add 203.0.113.1/24 dev up0
        ip -n \(H) link set up0 up
        for a in 198.51.100.10/24 198.51.100.20/24 203.0.113.10/24 169.254.169.254/32 168.63.129.16/32; do ip -n \(I) addr add $a dev eth0; done
        ip -n \(I) link set eth0 up
        ip -n \(I) route add 10.201.0.0/22 via 198.51.100.1
        ip -n \(I) route add 192.168.77.0/24 via 198.51.100.1
        ip -n \(H) route add 169.254.169.254/32 dev up0
        ip -n \(H) route add 168.63.129.16/32 dev up0
        ip -n \(H) link add lan0 type veth peer name eth0 netns \(P)
        ip -n \(H) addr add 192.168.77.1/24 dev lan0
        ip -n \(H) link set lan0 up
        ip -n \(P) addr add 192.168.77.10/24 dev eth0
        ip -n \(P) link set eth0 up
        ip -n \(P) route add default via 192.168.77.1
        ip -n \(H) addr add 10.201.0.1/32 dev lo
        ip -n \(S) addr add 10.201.0.9/32 dev eth0
        ip -n \(H) route add 10.201.0.9/32 dev \(sb)
        ip netns exec \(H) sysctl -qw net.ipv4.ip_forward=1
        """)
        hostNamespace = open("/run/netns/\(H)", O_RDONLY | O_CLOEXEC)
        filter = NftablesFilter(namespace: hostNamespace, conntrack: conntrack)
        for namespace in [H, I, P] { try startListener(in: namespace) }
        try startListener(in: H, port: 53)
    }

    /// Everything goes: listeners, namespaces (and with H the filter's rules), scratch files.
    func close() {
        // SIGKILL: children inherit the test process's signal mask, in which SIGTERM is blocked.
        for listener in listeners where listener.isRunning {
            kill(listener.processIdentifier, SIGKILL)
            listener.waitUntilExit()
        }
        Glibc.close(hostNamespace)
        _ = try? Self.shell("for n in \(host) \(sandbox) \(internet) \(lan); do ip netns del $n 2>/dev/null || true; done")
        try? FileManager.default.removeItem(at: scratch)
    }

    /// The sandbox's link as the `generation`-th attachment of its slot.
    func link(generation: UInt64) -> SandboxLink {
        var link = link
        link.generation = generation
        return link
    }

    /// Runs `body` on a thread of its own (the filter blocks on the kernel).
    func onFilter<T: Sendable>(_ body: @escaping @Sendable (NftablesFilter) throws -> T) async throws -> T {
        let filter = filter
        return try await DedicatedThread.run("filter-test") { try body(filter) }
    }

    /// Which of `addresses` the sandbox namespace reaches on the listeners' port: a TCP
    /// connection that echoes a byte back within `timeout` seconds. All tried at once.
    /// `source`: bind to that address first (S also holds 10.201.0.9, not its link's address).
    /// An address may carry its own port ("10.201.0.1:53").
    func reachable(_ addresses: [String], timeout: Double = 1.5, source: String? = nil, from namespace: String? = nil) throws -> [String: Bool] {
        let answers = try attempts(addresses, timeout: timeout, source: source, from: namespace)
        return Dictionary(zip(addresses, answers), uniquingKeysWith: { $0 && $1 })
    }

    func reaches(_ address: String) throws -> Bool {
        try reachable([address])[address] ?? false
    }

    /// One connection attempt per entry (repeats allowed), all at once; whether each went through.
    /// `namespace`: where the attempts start (default: the sandbox, S).
    func attempts(_ addresses: [String], timeout: Double = 1.5, source: String? = nil, from namespace: String? = nil) throws -> [Bool] {
        let targets = addresses.map { $0.contains(":") ? $0 : "\($0):\(Self.port)" }
        let (status, output) = try Subprocess.run("/usr/sbin/ip", ["netns", "exec", namespace ?? sandbox, Self.python, "-c", Self.probeScript, String(timeout), source ?? "-"] + targets)
        let text = String(decoding: output, as: UTF8.self)
        guard status == 0, let line = text.split(separator: "\n").last,
              let answer = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String],
              answer.count == targets.count
        else { throw ProbeFailed(output: text) }
        return answer.map { $0 == "ok" }
    }

    /// A client in the sandbox holding one TCP connection to `address`, trading a byte every
    /// 100 ms; it writes "connected" to `marker` once through, and exits when the flow breaks.
    func startHeldConnection(to address: String) throws -> (process: Process, marker: URL) {
        let marker = scratch.appendingPathComponent("held-\(UInt32.random(in: 0...UInt32.max))")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", sandbox, Self.python, "-c", Self.heldScript, address, String(Self.port), marker.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        listeners.append(process)
        return (process, marker)
    }

    /// The sandbox's TCP flows to `address` that H's conntrack holds.
    func trackedFlows(to address: String) throws -> Int {
        let (_, output) = try Subprocess.run("/usr/sbin/ip", ["netns", "exec", host, "conntrack", "-L", "-p", "tcp", "-s", "10.201.0.6", "-d", address], mergeStandardError: false)
        return String(decoding: output, as: UTF8.self).split(separator: "\n").filter { $0.contains("src=") }.count
    }

    /// `nft list ruleset` in H.
    func ruleset() throws -> String {
        try Nftables(namespace: hostNamespace).run("list ruleset")
    }

    private func startListener(in namespace: String, port: Int = FilterTestNetwork.port) throws {
        let ready = scratch.appendingPathComponent("ready-\(namespace)-\(port)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", namespace, Self.python, "-c", Self.listenerScript, String(port), ready.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        listeners.append(process)
        guard pollUntil(timeout: .seconds(10), { FileManager.default.fileExists(atPath: ready.path) }) else {
            throw ProbeFailed(output: "listener in \(namespace) did not start")
        }
    }

    @discardableResult
    static func shell(_ script: String) throws -> String {
        let (status, output) = try Subprocess.run("/bin/bash", ["-c", script])
        let text = String(decoding: output, as: UTF8.self)
        guard status == 0 else { throw ProbeFailed(output: "shell exited \(status): \(text)") }
        return text
    }

    struct ProbeFailed: Error, CustomStringConvertible {
        let output: String
        var description: String { "probe failed: \(output)" }
    }

    static let listenerScript = """
    import socket, sys, threading
    def echo(c):
        try:
            while True:
                d = c.recv(4096)
                if not d: break
                c.sendall(d)
        except OSError: pass
        c.close()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(sys.argv[1])))
    s.listen(512)
    open(sys.argv[2], "w").close()
    while True:
        c, _ = s.accept()
        threading.Thread(target=echo, args=(c,), daemon=True).start()
    """

    static let probeScript = """
    import json, socket, sys, threading
    timeout, source, targets = float(sys.argv[1]), sys.argv[2], sys.argv[3:]
    result = ["fail"] * len(targets)
    def probe(i, t):
        host, port = t.rsplit(":", 1)
        s = socket.socket()
        s.settimeout(timeout)
        try:
            if source != "-": s.bind((source, 0))
            s.connect((host, int(port)))
            s.sendall(b"x")
            result[i] = "ok" if s.recv(1) == b"x" else "fail"
        except OSError:
            pass
        s.close()
    threads = [threading.Thread(target=probe, args=(i, t)) for i, t in enumerate(targets)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(json.dumps(result))
    """

    static let heldScript = """
    import socket, sys, time
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
    s.settimeout(10)
    marked = False
    try:
        while True:
            s.sendall(b"x")
            if s.recv(1) != b"x": break
            if not marked:
                open(sys.argv[3], "w").close()
                marked = True
            time.sleep(0.1)
    except OSError:
        pass
    """
}
