import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost
@testable import SandboxRuntime

@Suite(.enabled(if: runningAsRoot, "sandboxes need root, as in CI"))
struct SandboxLifecycleTests {
    @Test(.testHost) func concurrentEnsureActiveMakesOneSandbox() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let sandboxes = SandboxClient(client: client, key: host.adminKey)
        let project = try await createProject(client, key: host.adminKey)
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<8 { group.addTask { try await sandboxes.ensureActive(project) } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(ids.count == 1)
        let id = try #require(ids.first)
        let (status, body) = try await sandboxes.get(id)
        #expect(status == .ok)
        #expect(body["state"] as? String == "running")
        #expect(body["project_id"] as? String == project)
        let limits = body["limits"] as? [String: Any]
        #expect(limits?["memory_mb"] as? Int == 2048)
        #expect(limits?["pids"] as? Int == 512)
        try await client.execute(uri: "/api/projects/\(project)", method: .get, headers: .bearer(host.adminKey)) { response in
            #expect(response.json["sandbox_id"] as? String == id)
        }
        // One PID 1 for the sandbox, whatever the number of calls.
        let pid1 = try await sandboxes.run(id, "ps -e -o pid=,comm= | awk '$1 == 1 {print $2}'")
        #expect(pid1.trimmingCharacters(in: .whitespacesAndNewlines) == "sandbox-init")
        _ = try await sandboxes.delete(id)
    }

    @Test(.hostWithSandbox) func executeReportsOutputExitCodeAndRunsInWorkspace() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client, sandboxes = fixture.sandboxes
        let sandbox = fixture.sandbox
        let result = try await sandboxes.exec(sandbox, "echo one; echo two >&2; echo three; pwd; id -u; echo $GREETING; exit 7", extra: ["env": ["GREETING": "hello there"]])
        #expect(result["exit_code"] as? Int == 7)
        #expect(result["success"] as? Bool == false)
        #expect(result["timed_out"] as? Bool == false)
        #expect(result["blocking"] as? Bool == true)
        #expect(result["stdout"] as? String == "one\nthree\n/workspace\n0\nhello there\n")
        #expect(result["stderr"] as? String == "two\n")
        // Both streams in `output`; pipes written within microseconds of each other may be read
        // in either order, so order is checked where output is paced, below.
        #expect(Set((result["output"] as? String ?? "").split(separator: "\n")) == ["one", "two", "three", "/workspace", "0", "hello there"])
        let paced = try await sandboxes.exec(sandbox, "echo a; sleep 0.1; echo b >&2; sleep 0.1; echo c")
        #expect(paced["output"] as? String == "a\nb\nc\n")
        #expect((result["duration_ms"] as? Int ?? -1) >= 0)

        #expect(try await sandboxes.run(sandbox, "cd /tmp && pwd") == "/tmp\n")
        let elsewhere = try await sandboxes.exec(sandbox, "pwd", extra: ["cwd": "/tmp"])
        #expect(elsewhere["stdout"] as? String == "/tmp\n")
        try await client.execute(
            uri: "/api/sandboxes/\(sandbox)/execute", method: .post, headers: .bearer(host.adminKey),
            body: ByteBuffer(string: #"{"command":"pwd","cwd":"/no/such/dir"}"#)
        ) { response in
            #expect(response.status == .unprocessableContent, "\(response.text)")
        }
        // A command gets stdin, stdout and stderr and nothing else of sandbox-init's (fd 3 is
        // the directory `ls` reads).
        #expect(try await sandboxes.run(sandbox, "ls /proc/self/fd") == "0\n1\n2\n3\n")
        let signalled = try await sandboxes.exec(sandbox, "kill -TERM $$")
        #expect(signalled["exit_code"] as? Int == 143)
        _ = try await sandboxes.delete(sandbox)
    }

    @Test(.hostWithSandbox) func filesPersistInTheWorkspaceAndAreOwnedByTheSandboxRange() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, sandboxes = fixture.sandboxes
        let project = fixture.project, sandbox = fixture.sandbox
        _ = try await sandboxes.run(sandbox, "mkdir -p src && echo 'print(1)' > src/app.py && echo data > /root/note")
        let hostPath = host.services.workspaces.path(projectID: project) + "/src/app.py"
        #expect(try String(contentsOfFile: hostPath, encoding: .utf8) == "print(1)\n")
        var info = stat()
        #expect(lstat(hostPath, &info) == 0)
        #expect(info.st_uid >= 1 << 20, "created by the sandbox's root, an unprivileged host uid")

        // Stopped, then started again by the next command: the workspace and the rootfs stay.
        try await host.services.runtime.stop(sandbox)
        #expect(try await sandboxes.get(sandbox).body["state"] as? String == "stopped")
        #expect(try await sandboxes.run(sandbox, "cat src/app.py /root/note") == "print(1)\ndata\n")
        #expect(try await sandboxes.get(sandbox).body["state"] as? String == "running")
        _ = try await sandboxes.delete(sandbox)
        #expect(FileManager.default.fileExists(atPath: hostPath), "deleting the sandbox keeps the project's files")
    }

    @Test(.hostWithSandbox) func deleteLeavesNoProcessCgroupOrFiles() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, sandboxes = fixture.sandboxes
        let sandbox = fixture.sandbox
        _ = try await sandboxes.exec(sandbox, "sleep 1000 & setsid sleep 1000 & echo started")
        let namespace = try await pidNamespace(host, sandbox)
        let members = HostSnapshot.processes(inPIDNamespace: namespace).compactMap(HostSnapshot.identity)
        #expect(members.count >= 3)
        #expect(try await sandboxes.delete(sandbox) == .ok)
        #expect(HostSnapshot.alive(members).isEmpty)
        #expect(HostSnapshot.cgroupDirectories(instanceOf: host) == 0)
        #expect(!FileManager.default.fileExists(atPath: host.directory + "/sandboxes/" + sandbox))
        #expect(try await sandboxes.get(sandbox).status == .notFound)
        #expect(try await sandboxes.delete(sandbox) == .notFound)
    }

    /// PID 1 and every process a command starts (a detached one included) are in the sandbox's
    /// memory, pids, cpu and freezer groups, and a command in its own group below: each joins by
    /// writing 0 into `tasks` (v1), which moves one thread, so this checks that moved the process.
    @Test(.hostWithSandbox) func sandboxAndCommandProcessesAreInTheirCgroups() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, sandboxes = fixture.sandboxes
        let sandbox = fixture.sandbox
        let pid1 = try #require(await host.services.runtime.initPID(sandbox))
        let cgroups = host.services.runtime.cgroups
        let groups = cgroups.sandboxDirectories(sandbox)
        #expect(!groups.isEmpty)
        for group in groups {
            #expect(CgroupManager.processes(in: group).contains(pid1), "\(group)")
        }
        // Inside, the cgroup namespace is rooted at the sandbox's groups; a command sees its own.
        let inside = try await sandboxes.run(sandbox, "(setsid sleep 300 &); sleep 0.2; cat /proc/self/cgroup")
        let lines = inside.split(separator: "\n").map(String.init)
        if case .v1 = cgroups.layout {
            #expect(lines.contains { $0.hasSuffix(":memory:/") })
            #expect(lines.contains { $0.hasSuffix(":pids:/") })
            #expect(lines.contains { $0.contains(":freezer:/c") })
        }
        // The detached sleep, seen from the host, is in each sandbox group or (freezer) in its
        // command's group below it.
        let namespace = try await pidNamespace(host, sandbox)
        let sleeper = try #require(HostSnapshot.processes(inPIDNamespace: namespace).first {
            (try? String(contentsOfFile: "/proc/\($0)/comm", encoding: .utf8))?.hasPrefix("sleep") == true
        })
        for group in groups {
            let below = ((try? FileManager.default.contentsOfDirectory(atPath: group)) ?? [])
                .map { group + "/" + $0 }.filter { SystemFile.exists($0 + "/cgroup.procs") }
            let members = ([group] + below).flatMap { CgroupManager.processes(in: $0) }
            #expect(members.contains(sleeper), "\(group)")
        }
        #expect(try await sandboxes.delete(sandbox) == .ok)
        #expect(HostSnapshot.alive([HostSnapshot.identity(sleeper)].compactMap { $0 }).isEmpty)
    }

    @Test(.hostWithSandbox) func deletingTheProjectDeletesItsSandbox() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client, sandboxes = fixture.sandboxes
        let project = fixture.project, sandbox = fixture.sandbox
        _ = try await sandboxes.exec(sandbox, "nohup sleep 1000 >/dev/null 2>&1 &")
        let namespace = try await pidNamespace(host, sandbox)
        let members = HostSnapshot.processes(inPIDNamespace: namespace).compactMap(HostSnapshot.identity)
        #expect(members.count >= 2)
        _ = try await client.execute(uri: "/api/projects/\(project)", method: .delete, headers: .bearer(host.adminKey))
        #expect(HostSnapshot.alive(members).isEmpty)
        #expect(try await sandboxes.get(sandbox).status == .notFound)
        #expect(!FileManager.default.fileExists(atPath: host.services.workspaces.path(projectID: project)))
    }

    @Test(.hostWithSandbox(configure: { $0.idleTimeout = .seconds(1) })) func idleSandboxesAreStoppedAndStartAgainOnDemand() async throws {
        let fixture = try HostFixture.current
        let sandboxes = fixture.sandboxes
        let sandbox = fixture.sandbox
        _ = try await sandboxes.run(sandbox, "echo hi > /workspace/kept")
        var state = "running"
        for _ in 0..<600 where state == "running" {  // a deadline (60 s) for a loaded light suite, not a measure
            try await Task.sleep(for: .milliseconds(100))
            state = try await sandboxes.get(sandbox).body["state"] as? String ?? ""
        }
        #expect(state == "stopped")
        #expect(try await sandboxes.run(sandbox, "cat /workspace/kept") == "hi\n")
        _ = try await sandboxes.delete(sandbox)
    }

    @Test(.hostWithSandbox) func commandsRacingAStopSucceed() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, sandboxes = fixture.sandboxes
        let sandbox = fixture.sandbox
        for _ in 0..<5 {
            async let stopped: Void = host.services.runtime.stop(sandbox)
            async let output = sandboxes.run(sandbox, "echo alive")
            try await stopped
            #expect(try await output == "alive\n")
            // Whatever order they ran in, state and cgroups agree: running with its five
            // groups (memory, pids, cpu, cpuacct, freezer), or stopped with none left behind.
            let running = await host.services.runtime.isRunning(sandbox)
            #expect(HostSnapshot.cgroupDirectories(instanceOf: host) == (running ? 5 : 0))
        }
        _ = try await sandboxes.delete(sandbox)
    }

    @Test(.testHost(environment: ["SANDBOX_HOST_INIT_PATH": "/nonexistent/sandbox-init"])) func aMissingHelperIs503WithAFixNotA500() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let project = try await createProject(client, key: host.adminKey)
        try await client.execute(uri: "/api/project/\(project)/sandbox/ensure-active", method: .post, headers: .bearer(host.adminKey)) { response in
            #expect(response.status == .serviceUnavailable)
            #expect(response.json["code"] as? String == "SANDBOX_UNAVAILABLE")
            #expect((response.json["detail"] as? String)?.contains("make build") == true)
            #expect(!response.text.contains("/nonexistent"), "no host path in the answer")
        }
    }

    @Test(.hostWithSandbox) func anotherUsersSandboxIs404() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client, sandboxes = fixture.sandboxes
        let project = fixture.project, sandbox = fixture.sandbox
        let stranger = try host.makeUser("stranger")
        let foreign = SandboxClient(client: client, key: stranger)
        #expect(try await foreign.get(sandbox).status == .notFound)
        #expect(try await foreign.delete(sandbox) == .notFound)
        try await client.execute(uri: "/api/sandboxes/\(sandbox)/execute", method: .post, headers: .bearer(stranger), body: ByteBuffer(string: #"{"command":"true"}"#)) { response in
            #expect(response.status == .notFound)
        }
        try await client.execute(uri: "/api/project/\(project)/sandbox/ensure-active", method: .post, headers: .bearer(stranger)) { response in
            #expect(response.status == .notFound)
        }
        _ = try await sandboxes.delete(sandbox)
    }
}

/// The PID namespace of a running sandbox, read from its PID 1 on the host.
func pidNamespace(_ host: TestHost, _ sandbox: String) async throws -> String {
    let pid = try #require(await host.services.runtime.initPID(sandbox))
    return try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/pid")
}

func adminID(_ host: TestHost) throws -> String {
    try #require(try host.services.database.runBlocking { try UserStore.user(named: "admin", in: $0) }).id
}
