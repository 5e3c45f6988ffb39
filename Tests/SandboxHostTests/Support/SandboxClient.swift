import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost
@testable import SandboxRuntime

/// Sandbox routes, as a client calls them through the router.
struct SandboxClient {
    let client: any TestClientProtocol
    let key: String

    /// Creates a project and activates its sandbox; answers (project id, sandbox id).
    func create(name: String = "sandbox") async throws -> (project: String, sandbox: String) {
        let project = try await createProject(client, key: key, name: name)
        let sandbox = try await ensureActive(project)
        return (project, sandbox)
    }

    func ensureActive(_ project: String) async throws -> String {
        try await client.execute(uri: "/api/project/\(project)/sandbox/ensure-active", method: .post, headers: .bearer(key)) { response in
            try #require(response.status == .ok, "ensure-active: \(response.status) \(response.text)")
            #expect(response.json["state"] as? String == "running")
            return try #require(response.json["sandbox_id"] as? String)
        }
    }

    /// Runs a blocking command; answers the response body.
    @discardableResult
    func exec(_ sandbox: String, _ command: String, timeout: Double = 30, extra: [String: Any] = [:]) async throws -> [String: Any] {
        var body: [String: Any] = ["command": command, "timeout": timeout]
        body.merge(extra) { $1 }
        let data = try JSONSerialization.data(withJSONObject: body)
        return try await client.execute(
            uri: "/api/sandboxes/\(sandbox)/execute", method: .post, headers: .bearer(key), body: ByteBuffer(data: data)
        ) { response in
            try #require(response.status == .ok, "execute: \(response.status) \(response.text)")
            return response.json
        }
    }

    /// Runs a command that must succeed; answers its stdout.
    func run(_ sandbox: String, _ command: String) async throws -> String {
        let result = try await exec(sandbox, command)
        #expect(result["exit_code"] as? Int == 0, "\(command): \(result["output"] ?? "")")
        return result["stdout"] as? String ?? ""
    }

    func get(_ sandbox: String) async throws -> (status: HTTPResponse.Status, body: [String: Any]) {
        try await client.execute(uri: "/api/sandboxes/\(sandbox)", method: .get, headers: .bearer(key)) { ($0.status, $0.json) }
    }

    func delete(_ sandbox: String) async throws -> HTTPResponse.Status {
        try await client.execute(uri: "/api/sandboxes/\(sandbox)", method: .delete, headers: .bearer(key)) { $0.status }
    }
}

/// Host-side facts a test compares before and after: processes, mounts, cgroups, open fds.
enum HostSnapshot {
    /// Host pids whose uid lies in [base, base + 65536), i.e. processes of that sandbox.
    static func processes(uidBase: UInt32) -> [Int32] {
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
        return pids.filter { pid in
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") }),
                  let uid = line.split(whereSeparator: \.isWhitespace).dropFirst().first.flatMap({ UInt32($0) })
            else { return false }
            return uid >= uidBase && uid < uidBase + 65_536
        }
    }

    /// Host pids of the processes in a PID namespace (`pid:[inode]`), i.e. of one sandbox.
    static func processes(inPIDNamespace namespace: String) -> [Int32] {
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
        return pids.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\($0)/ns/pid")) == namespace }
    }

    /// A process's identity that survives pid reuse: pid and start time.
    static func identity(_ pid: Int32) -> String? {
        statFields(pid).flatMap { $0.count > 19 ? "\(pid)@\($0[19])" : nil }
    }

    /// The fields of `/proc/<pid>/stat` after the command name (so index 0 is the state, 1 the parent).
    static func statFields(_ pid: Int32) -> [Substring]? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ")
    }

    /// Which of `identities` still run (zombies count as gone).
    static func alive(_ identities: [String]) -> [String] {
        identities.filter { identity in
            guard let pid = Int32(identity.split(separator: "@")[0]), self.identity(pid) == identity,
                  let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
            return !status.contains("State:\tZ")
        }
    }

    /// Mounts in this process's namespace, project volumes and ready-made pool images left out:
    /// every project made by a test running in parallel mounts one (tests of volumes check them
    /// by name). Mounts inside another test host's directory are left out too (`own` names the
    /// caller's): tests running in parallel make and remove them whenever they like.
    static func mounts(own: String? = nil) -> [String] {
        let testHosts = FileManager.default.temporaryDirectory.appendingPathComponent("sandbox-host-test-").path
        return MountTable.read().filter { entry in
            !(entry.fileSystem == "ext4" && entry.source.hasPrefix("/dev/loop")
              && (entry.mountPoint.contains("/workspaces/") || entry.mountPoint.contains("/disks/pool/")))
            && !(entry.mountPoint.hasPrefix(testHosts) && !(own.map { entry.mountPoint.hasPrefix($0) } ?? false))
            && !entry.mountPoint.hasPrefix("/run/netns/")  // the network tests' own namespaces
        }.map { "\($0.mountPoint) \($0.fileSystem) \($0.source)" }.sorted()
    }

    static func openFDs() -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).count
    }

    static func cgroupDirectories(instanceOf host: TestHost) -> Int {
        cgroupDirectories(dataDir: host.directory)
    }

    /// Cgroup directories (in every v1 hierarchy the runtime uses) of the host on `dataDir`.
    static func cgroupDirectories(dataDir: String) -> Int {
        let key = SandboxRuntime.instanceKey(dataDir)
        func directories(under path: String) -> Int {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            return names.reduce(0) { count, name in
                var info = stat()
                let child = path + "/" + name
                guard lstat(child, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { return count }
                return count + 1 + directories(under: child)
            }
        }
        return ["memory", "pids", "cpu", "cpuacct", "freezer"].reduce(0) { count, controller in
            count + directories(under: "/sys/fs/cgroup/\(controller)/sandbox-host/\(key)")
        }
    }
}

let runningAsRoot = geteuid() == 0

