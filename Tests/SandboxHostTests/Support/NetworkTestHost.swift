import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
@testable import SandboxRuntime

/// A real host (its binary, as its own process) with networking on, a range of its own and the
/// fake internet as its upstream resolver, listening on every address (as a deployed host would:
/// so its API port is there to be attacked on the gateway and the host's other addresses).
final class NetworkTestHost: Sendable {
    let process: HostProcess
    let dataDir: String
    let key: String
    let environment: [String: String]

    var port: Int { process.port }
    /// The first 6 hex digits of the instance key: every interface of this host starts `sb` + this.
    var interfacePrefix: String { "sb" + SandboxRuntime.instanceKey(dataDir).prefix(6) }

    private init(process: HostProcess, dataDir: String, key: String, environment: [String: String]) {
        self.process = process
        self.dataDir = dataDir
        self.key = key
        self.environment = environment
    }

    /// `relative`: the host is given its data directory relative to the working directory (as
    /// `make run`'s `./data`).
    static func start(_ internet: FakeInternet, extra: [String: String] = [:], relative: Bool = false) async throws -> NetworkTestHost {
        var dataDir = try TemporaryDirectory.make()
        if relative {
            let depth = FileManager.default.currentDirectoryPath.split(separator: "/").count
            dataDir = String(repeating: "../", count: depth) + dataDir.dropFirst()
        }
        let environment = internet.hostEnvironment(range: FakeInternet.randomRange())
            .merging(["SANDBOX_HOST_RATE_LIMIT": "0", "SANDBOX_HOST_HOST": "0.0.0.0"]) { $1 }
            .merging(extra) { $1 }
        return try await start(dataDir: dataDir, environment: environment)
    }

    private static func start(dataDir: String, environment: [String: String]) async throws -> NetworkTestHost {
        let process = try await HostProcess(dataDir: dataDir, environment: environment)
        let key = try process.adminKey
        return NetworkTestHost(process: process, dataDir: dataDir, key: key, environment: environment)
    }

    /// The same data directory and environment, after a graceful stop.
    func restart() async throws -> NetworkTestHost {
        try await process.stop()
        return try await Self.start(dataDir: dataDir, environment: environment)
    }

    /// Stops the host and removes its data directory (volumes unmounted first).
    func remove() async {
        // Never a signal to a stopped host's pid (it may be another process's by now).
        if process.process.isRunning { _ = try? await process.stop() }
        let prefix = URL(fileURLWithPath: dataDir).standardizedFileURL.path + "/"
        for entry in MountTable.read().filter({ $0.mountPoint.hasPrefix(prefix) }).sorted(by: { $0.mountPoint > $1.mountPoint }) {
            umount2(entry.mountPoint, Int32(MNT_DETACH))
        }
        try? FileManager.default.removeItem(atPath: dataDir)
    }

    /// One request with a JSON body; answers status and the body parsed (empty when not an object).
    func call(_ method: HTTPMethod, _ path: String, _ body: Any? = nil, timeout: Int64 = 60) async throws -> (status: Int, json: [String: Any], text: String) {
        var request = HTTPClientRequest(url: process.baseURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(timeout))
        let text = String(buffer: try await response.body.collect(upTo: 16 << 20))
        let json = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
        return (Int(response.status.code), json, text)
    }

    /// A project (with `network` as its policy when given) and its running sandbox, the probe
    /// script written into it.
    func createSandbox(_ name: String = "net", network: [String: Any]? = nil) async throws -> (project: String, sandbox: String) {
        var body: [String: Any] = ["name": name]
        if let network { body["network"] = network }
        let created = try await call(.POST, "/api/projects", body)
        try #require(created.status == 201, "create project with \(String(describing: network)): \(created.status) \(created.text)")
        let project = try #require(created.json["project_id"] as? String)
        let sandbox = try await ensureActive(project)
        try await upload(sandbox, NetworkProbe.path, NetworkProbe.script)
        return (project, sandbox)
    }

    /// Writes `text` to /workspace/`path` in the sandbox.
    func upload(_ sandbox: String, _ path: String, _ text: String) async throws {
        var request = HTTPClientRequest(url: process.baseURL + "/api/sandboxes/\(sandbox)/files/content?path=\(path)")
        request.method = .PUT
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        request.body = .bytes(ByteBuffer(string: text))
        let written = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        try #require(written.status == .ok, "upload of \(path): \(written.status)")
    }

    func ensureActive(_ project: String) async throws -> String {
        let activated = try await call(.POST, "/api/project/\(project)/sandbox/ensure-active")
        try #require(activated.status == 200, "ensure-active: \(activated.status) \(activated.text)")
        return try #require(activated.json["sandbox_id"] as? String)
    }

    /// Runs `command` in the sandbox; answers exit code and stdout.
    func exec(_ sandbox: String, _ command: String) async throws -> (exitCode: Int, stdout: String) {
        let result = try await call(.POST, "/api/sandboxes/\(sandbox)/execute", ["command": command, "timeout": 30])
        try #require(result.status == 200, "execute: \(result.status) \(result.text)")
        return (result.json["exit_code"] as? Int ?? -1, result.json["stdout"] as? String ?? "")
    }

    /// Runs the probes inside the sandbox at once; answers their results in order.
    func probe(_ sandbox: String, _ probes: [[String: Any]]) async throws -> [NetworkProbe.Result] {
        let argument = String(decoding: try JSONSerialization.data(withJSONObject: probes), as: UTF8.self)
        try #require(!argument.contains("'"))
        let (code, stdout) = try await exec(sandbox, "python3 /workspace/\(NetworkProbe.path) '\(argument)'")
        let results = (try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [[String: Any]] ?? []
        try #require(code == 0 && results.count == probes.count, "probe: exit \(code), \(stdout)")
        return results.map { NetworkProbe.Result(ok: $0["ok"] as? Bool ?? false, value: $0["value"] ?? "") }
    }

    /// The sandbox's own address, its gateway and its nameserver (nil in `none` mode).
    func facts(_ sandbox: String) async throws -> (address: String?, gateway: String?, nameserver: String?) {
        let value = try await probe(sandbox, [NetworkProbe.facts])[0].value as? [String: Any] ?? [:]
        return (value["address"] as? String, value["gateway"] as? String, value["nameserver"] as? String)
    }

    func policy(_ sandbox: String) async throws -> [String: Any] {
        let answer = try await call(.GET, "/api/sandboxes/\(sandbox)/network")
        #expect(answer.status == 200, "GET network: \(answer.text)")
        return answer.json
    }

    func put(_ sandbox: String, _ policy: [String: Any]) async throws {
        let answer = try await call(.PUT, "/api/sandboxes/\(sandbox)/network", policy)
        try #require(answer.status == 200, "PUT network: \(answer.status) \(answer.text)")
        #expect(answer.json["mode"] as? String == policy["mode"] as? String, "\(answer.text)")
    }

    /// This host's kernel objects: its interfaces, its netns files, its nftables table's chains,
    /// sets, rules and set elements, and conntrack entries from its range.
    struct KernelObjects: Equatable, CustomStringConvertible {
        var interfaces: [String]
        var namespaces: [String]
        var table: [String: Int]
        var conntrack: Int
        var description: String { "interfaces \(interfaces.count) \(interfaces), netns \(namespaces), nft \(table), conntrack \(conntrack)" }
    }

    func kernelObjects() throws -> KernelObjects {
        let links = String(decoding: try Subprocess.run("/usr/sbin/ip", ["-o", "link"]).output, as: UTF8.self)
        let interfaces = links.split(separator: "\n").compactMap { line -> String? in
            let name = line.split(separator: ":").dropFirst().first?.trimmingCharacters(in: .whitespaces).split(separator: "@").first.map(String.init)
            return name.flatMap { $0.hasPrefix(interfacePrefix) ? $0 : nil }
        }.sorted()
        let namespaces = ((try? FileManager.default.contentsOfDirectory(atPath: dataDir + "/run/netns")) ?? []).sorted()
        var table: [String: Int] = [:]
        if let name = try tableName() {
            let (_, data) = try Subprocess.run("/usr/sbin/nft", ["-j", "list", "table", "inet", name], mergeStandardError: false)
            let objects = ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["nftables"] as? [[String: Any]] ?? []
            for object in objects {
                for kind in ["chain", "set", "map", "rule"] where object[kind] != nil {
                    table[kind, default: 0] += 1
                    if let elements = (object[kind] as? [String: Any])?["elem"] as? [Any] { table["elements", default: 0] += elements.count }
                }
            }
        }
        let range = environment["SANDBOX_HOST_NETWORK_RANGE"] ?? ""
        let (_, entries) = try Subprocess.run("/usr/sbin/conntrack", ["-L"], mergeStandardError: false)
        let conntrack = String(decoding: entries, as: UTF8.self).split(separator: "\n").filter { line in
            line.split(separator: " ").contains { $0.hasPrefix("src=") && Self.contains(range, String($0.dropFirst(4))) }
        }.count
        return KernelObjects(interfaces: interfaces, namespaces: namespaces, table: table, conntrack: conntrack)
    }

    /// This host's nftables table (`sandbox_host_<key>`), if it has one.
    func tableName() throws -> String? {
        let key = SandboxRuntime.instanceKey(dataDir)
        let (_, data) = try Subprocess.run("/usr/sbin/nft", ["list", "tables"], mergeStandardError: false)
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line -> String? in
            let name = line.split(separator: " ").last.map(String.init) ?? ""
            return name.hasPrefix("sandbox_host_") && key.hasPrefix(name.dropFirst("sandbox_host_".count)) ? name : nil
        }.first
    }

    /// Whether IPv4 `address` lies in `cidr`.
    static func contains(_ cidr: String, _ address: String) -> Bool {
        func value(_ text: Substring) -> UInt32? {
            let parts = text.split(separator: ".").compactMap { UInt32($0) }
            return parts.count == 4 && parts.allSatisfy { $0 < 256 } ? parts.reduce(0) { $0 << 8 | $1 } : nil
        }
        let pieces = cidr.split(separator: "/")
        guard pieces.count == 2, let base = value(pieces[0]), let bits = UInt32(pieces[1]), bits <= 32,
              let candidate = value(Substring(address)) else { return false }
        let mask: UInt32 = bits == 0 ? 0 : ~UInt32(0) << (32 - bits)
        return candidate & mask == base & mask
    }

    /// The host's first global IPv4 address that is neither a sandbox link's nor the fake internet's.
    static func primaryAddress() throws -> String? {
        let text = String(decoding: try Subprocess.run("/usr/sbin/ip", ["-4", "-o", "addr", "show", "scope", "global"]).output, as: UTF8.self)
        return text.split(separator: "\n").compactMap { line -> String? in
            let words = line.split(separator: " ")
            guard let index = words.firstIndex(of: "inet"), index + 1 < words.count else { return nil }
            let address = String(words[index + 1].split(separator: "/")[0])
            let interface = String(words[1])
            return interface.hasPrefix("sb") || interface.hasPrefix("fk") || address.hasPrefix("10.") ? nil : address
        }.first
    }
}
