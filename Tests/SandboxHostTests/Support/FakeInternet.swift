import Foundation
import Synchronization
import Testing

/// A fake internet for the network tests (root): benchmarks/fake_internet.py run as a child. It
/// makes a network namespace of its own with addresses in 198.51.100.0/24 and 203.0.113.0/24
/// (reached from the host over a veth whose host end owns 198.51.100.1 and 203.0.113.1), an
/// HTTP server on port 80 of each address (`/` answers `hello from ADDRESS`, `/bytes/N`, `/slow`),
/// a DNS server at 198.51.100.53 (UDP and TCP) answering `names` with TTL 60 and NXDOMAIN for
/// the rest, and canaries no sandbox may reach: a link-local and a private address routed into
/// that namespace, and TCP listeners on the host's loopback and on every host address.
///
/// The documentation ranges are fixed (the names answer them), so the process shares one:
/// `FakeInternet.use { internet in … }` starts it for the first user and removes it (namespace,
/// veth, routes, servers) when the last one is done. If the test process dies, the script sees
/// its stdin close and removes everything itself.
final class FakeInternet: Sendable {
    struct Description: Decodable, Sendable {
        let namespace: String
        let host_link: String
        let dns: String
        let names: [String: String]
        let served: [String]
        let host_addresses: [String]
        let link_local_canary: String
        let private_canary: String
        let loopback_canary_port: Int
        let host_canary_port: Int
    }

    let description: Description
    private let process: Process
    private let input: FileHandle
    private let output: Locked<String>

    /// `SANDBOX_HOST_DNS_UPSTREAM` for a host that should resolve through it.
    var upstream: String { description.dns }
    var names: [String: String] { description.names }
    /// The address `name` resolves to (one of `names`).
    func address(_ name: String) -> String { description.names[name] ?? "" }
    /// Everything the script wrote (for failure messages).
    var log: String { output.value }

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("benchmarks/fake_internet.py").path
    }

    private init(description: Description, process: Process, input: FileHandle, output: Locked<String>) {
        self.description = description
        self.process = process
        self.input = input
        self.output = output
    }

    /// Starts the script and waits (20 s at most) for its `ready` line.
    static func start() async throws -> FakeInternet {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script]
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stdout
        let output = Locked("")
        // Removed at the end of the output, as HostProcess's (a source left on a closed pipe
        // spins, and outliving its descriptor crashes libdispatch).
        stdout.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            guard !data.isEmpty else {
                handle.readabilityHandler = nil
                return
            }
            output.mutate { $0 += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline, process.isRunning {
            let text = output.value
            if let range = text.range(of: "ready "), let end = text[range.upperBound...].firstIndex(of: "\n") {
                let description = try JSONDecoder().decode(Description.self, from: Data(text[range.upperBound..<end].utf8))
                return FakeInternet(description: description, process: process, input: stdin.fileHandleForWriting, output: output)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning { process.terminate() }
        throw HostProcessError("the fake internet did not start: \(output.value)")
    }

    /// Closes the script's stdin (it tears everything down and exits) and waits for it.
    func stop() async {
        try? input.close()
        let deadline = ContinuousClock.now + .seconds(15)
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// Runs `body` with the process's fake internet, started for it if no one else uses it.
    static func use<T: Sendable>(_ body: (FakeInternet) async throws -> T) async throws -> T {
        let internet = try await FakeInternetShare.shared.acquire()
        do {
            let result = try await body(internet)
            await FakeInternetShare.shared.release()
            return result
        } catch {
            await FakeInternetShare.shared.release()
            throw error
        }
    }

    /// A random /22 inside 10.200.0.0/13 for a host under test (`SANDBOX_HOST_NETWORK_RANGE`), so
    /// parallel test hosts never share addresses.
    static func randomRange() -> String {
        let index = Int.random(in: 0..<512)
        return "10.\(200 + index / 64).\((index % 64) * 4).0/22"
    }

    /// The environment of a host under test that resolves through this fake internet, with
    /// networking on and a range of its own.
    func hostEnvironment(range: String) -> [String: String] {
        ["SANDBOX_HOST_NETWORK": "on", "SANDBOX_HOST_NETWORK_RANGE": range, "SANDBOX_HOST_DNS_UPSTREAM": upstream]
    }
}

/// The one fake internet of this process and how many tests use it. A new one starts only after
/// the last one's teardown ended (its routes would refuse the new one).
actor FakeInternetShare {
    static let shared = FakeInternetShare()
    private var users = 0
    private var starting: Task<FakeInternet, any Error>?
    private var stopping: Task<Void, Never>?

    func acquire() async throws -> FakeInternet {
        users += 1
        if starting == nil, let stopping { await stopping.value }
        let task = starting ?? Task { try await FakeInternet.start() }
        starting = task
        do {
            return try await task.value
        } catch {
            users -= 1
            if users == 0, starting == task { starting = nil }
            throw error
        }
    }

    func release() async {
        users -= 1
        guard users == 0, let task = starting else { return }
        starting = nil
        let stop = Task { if let internet = try? await task.value { await internet.stop() } }
        stopping = stop
        await stop.value
    }
}

/// Blocking probes from the host's own namespace (the fixture's own test, the benchmarks' baseline).
enum HostNetworkProbe {
    /// curl from the host: (HTTP status or 0, body).
    static func get(_ url: String, timeout: Int = 5) throws -> (status: Int, body: String) {
        let (_, data) = try Subprocess.run("/usr/bin/curl", ["-s", "--noproxy", "*", "--max-time", String(timeout), "-w", "\n%{http_code}", url], mergeStandardError: false)
        var text = String(decoding: data, as: UTF8.self)
        let status = Int(text.split(separator: "\n").last ?? "") ?? 0
        if let cut = text.lastIndex(of: "\n") { text = String(text[..<cut]) } else { text = "" }
        return (status, text)
    }

    /// One DNS A query to `server` over UDP or TCP: (rcode, the answer's addresses), rcode -1 when
    /// nothing answered.
    static func query(_ name: String, server: String, tcp: Bool = false) throws -> (rcode: Int, addresses: [String]) {
        let script = """
            import socket, struct, sys
            name, server, tcp = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
            msg = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\\0" + struct.pack("!HH", 1, 1)
            try:
                if tcp:
                    s = socket.create_connection((server, 53), 3); s.sendall(struct.pack("!H", len(msg)) + msg)
                    data = b""
                    while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
                        chunk = s.recv(4096)
                        if not chunk: break
                        data += chunk
                    data = data[2:]
                else:
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3); s.sendto(msg, (server, 53)); data = s.recv(4096)
            except OSError:
                print(-1); sys.exit(0)
            count = struct.unpack("!H", data[6:8])[0]
            position = len(msg)
            addresses = []
            for _ in range(count):
                kind, _, _, length = struct.unpack("!HHIH", data[position + 2:position + 12])
                if kind == 1: addresses.append(socket.inet_ntoa(data[position + 12:position + 12 + length]))
                position += 12 + length
            print(data[3] & 15, *addresses)
            """
        let (_, data) = try Subprocess.run("/usr/bin/python3", ["-c", script, name, server, tcp ? "1" : "0"], mergeStandardError: false)
        let words = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isWhitespace).map(String.init)
        return (Int(words.first ?? "") ?? -1, Array(words.dropFirst()))
    }

    /// Whether a TCP connect to `address`:`port` succeeds within `timeout` seconds, and what it read.
    static func connect(_ address: String, _ port: Int, timeout: Double = 2) throws -> String? {
        let script = """
            import socket, sys
            try:
                s = socket.create_connection((sys.argv[1], int(sys.argv[2])), float(sys.argv[3])); s.settimeout(1)
                print("connected", s.recv(100).decode(errors="replace").strip())
            except OSError as error:
                print("failed", error)
            """
        let (_, data) = try Subprocess.run("/usr/bin/python3", ["-c", script, address, String(port), String(timeout)], mergeStandardError: false)
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.hasPrefix("connected") ? String(text.dropFirst("connected".count)).trimmingCharacters(in: .whitespaces) : nil
    }
}
