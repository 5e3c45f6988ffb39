import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost
@testable import SandboxRuntime

@Suite(.enabled(if: runningAsRoot, "sandboxes need root, as in CI"))
struct SessionTests {
    func start(_ client: any TestClientProtocol, _ key: String, _ sandbox: String, _ command: String, session: String) async throws -> String {
        let body = try JSONSerialization.data(withJSONObject: ["command": command, "blocking": false, "session_name": session])
        return try await client.execute(uri: "/api/sandboxes/\(sandbox)/execute", method: .post, headers: .bearer(key), body: ByteBuffer(data: body)) { response in
            try #require(response.status == .ok, "\(response.text)")
            #expect(response.json["blocking"] as? Bool == false)
            #expect(response.json["session_name"] as? String == session)
            return try #require(response.json["command_id"] as? String)
        }
    }

    func status(_ client: any TestClientProtocol, _ key: String, _ sandbox: String, _ session: String) async throws -> [String: Any] {
        try await client.execute(uri: "/api/sandboxes/\(sandbox)/sessions/\(session)/status", method: .get, headers: .bearer(key)) { response in
            try #require(response.status == .ok, "\(response.text)")
            return response.json
        }
    }

    /// Parses an SSE body into (id, payload) pairs, pings left out.
    static func events(_ text: String) -> [(id: Int?, payload: [String: Any])] {
        payloads(EventStreamReader.events(text))
    }

    /// Parsed events as (id, payload) pairs, pings left out.
    static func payloads(_ events: [EventStreamReader.Event]) -> [(id: Int?, payload: [String: Any])] {
        events.compactMap { event in
            guard let payload = (try? JSONSerialization.jsonObject(with: Data(event.data.utf8))) as? [String: Any],
                  payload["type"] as? String != "ping" else { return nil }
            return (event.id.flatMap { Int($0) }, payload)
        }
    }

    @Test(.hostWithSandbox) func nonBlockingCommandsRunInSessionsAndAreLoggedAndStreamed() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client, sandboxes = fixture.sandboxes
        let key = host.adminKey
        let sandbox = fixture.sandbox
        let first = try await start(client, key, sandbox, "echo one; echo two >&2; sleep 0.3; echo three; exit 4", session: "build")

        // The stream replays then follows, and ends when nothing in the session runs.
        let streamed = try await client.execute(uri: "/api/sandboxes/\(sandbox)/sessions/build/stream", method: .get, headers: .bearer(key)) { response in
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/event-stream")
            #expect(response.headers[.cacheControl] == "no-cache")
            return response.text
        }
        let events = Self.events(streamed)
        let logs = events.filter { $0.payload["type"] as? String == "log" }
        #expect(logs.compactMap { $0.payload["data"] as? String }.joined().split(separator: "\n").sorted() == ["one", "three", "two"])
        #expect(logs.contains { $0.payload["stream"] as? String == "stderr" && $0.payload["data"] as? String == "two\n" })
        let exit = try #require(events.last)
        #expect(exit.payload["type"] as? String == "exit")
        #expect(exit.payload["exit_code"] as? Int == 4)
        #expect(exit.payload["command_id"] as? String == first)
        let ids = events.compactMap(\.id)
        #expect(ids == ids.sorted() && Set(ids).count == ids.count, "ids increase, none twice")

        // Resuming after an id sends only what came later.
        let resumeAfter = try #require(ids.first)
        try await client.execute(
            uri: "/api/sandboxes/\(sandbox)/sessions/build/stream", method: .get,
            headers: [.authorization: "Bearer \(key)", HTTPField.Name("Last-Event-ID")!: String(resumeAfter)]
        ) { response in
            let resumed = Self.events(response.text).compactMap(\.id)
            #expect(resumed == Array(ids.dropFirst()))
        }
        // EventSource cannot set headers: ?token= works on stream routes.
        try await client.execute(uri: "/api/sandboxes/\(sandbox)/sessions/build/stream?token=\(key)&after=\(ids.last ?? 0)", method: .get) { response in
            #expect(response.status == .ok)
            #expect(Self.events(response.text).isEmpty)
        }

        let second = try await start(client, key, sandbox, "echo again", session: "build")
        for _ in 0..<50 {
            if (try await status(client, key, sandbox, "build"))["status"] as? String == "exited" { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let body = try await status(client, key, sandbox, "build")
        #expect(body["session_name"] as? String == "build")
        #expect(body["status"] as? String == "exited")
        #expect(body["total_commands"] as? Int == 2)
        let commands = body["commands"] as? [[String: Any]] ?? []
        #expect(commands.compactMap { $0["command_id"] as? String } == [first, second])
        #expect(commands.first?["exit_code"] as? Int == 4)
        #expect(commands.first?["running"] as? Bool == false)
        #expect(commands.last?["logs"] as? String == "again\n")

        try await client.execute(uri: "/api/sandboxes/\(sandbox)/sessions", method: .get, headers: .bearer(key)) { response in
            let sessions = response.json["sessions"] as? [[String: Any]] ?? []
            #expect(sessions.compactMap { $0["session_name"] as? String } == ["build"])
            #expect(sessions.first?["status"] as? String == "exited")
        }
        _ = try await sandboxes.delete(sandbox)
    }

    /// Against the real binary, reading the stream as it comes: after three pings the session is
    /// killed, and the stream ends with its exit. No timing assumption, however loaded the machine.
    @Test func aQuietStreamSendsHeartbeatsWithoutIDs() async throws {
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let host = try await HostProcess(dataDir: dataDir, environment: ["SANDBOX_HOST_HEARTBEAT_MS": "200"])
        let key = try host.adminKey
        let (_, sandbox) = try await host.createSandbox(key: key)
        let started = try await host.request(.POST, "/api/sandboxes/\(sandbox)/execute", key: key, body: #"{"command":"sleep 600","blocking":false,"session_name":"quiet"}"#)
        #expect(started.status == 200)
        var request = HTTPClientRequest(url: host.baseURL + "/api/sandboxes/\(sandbox)/sessions/quiet/stream")
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        var text = ""
        var reader = EventStreamReader()
        var events: [EventStreamReader.Event] = []
        var killed = false
        for try await chunk in response.body {
            text += String(buffer: chunk)
            events += reader.feed(chunk)
            if !killed, events.filter({ $0.name == "ping" }).count >= 3 {
                killed = true
                _ = try await host.request(.DELETE, "/api/sandboxes/\(sandbox)/sessions/quiet", key: key)
            }
        }
        events += reader.finish()
        let pings = events.filter { $0.name == "ping" }
        #expect(pings.count >= 3, "\(text)")
        #expect(pings.allSatisfy { $0.id == nil && $0.data == #"{"type":"ping"}"# }, "\(text)")
        #expect(events.last?.data.contains(#""type":"exit""#) == true, "\(text)")
        try await host.stop()
    }

    @Test(.hostWithSandbox) func killingASessionKillsEverythingItStarted() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client, sandboxes = fixture.sandboxes
        let key = host.adminKey
        let sandbox = fixture.sandbox
        _ = try await start(client, key, sandbox, "setsid sleep 1000 & nohup sleep 1000 >/dev/null 2>&1 & python3 -m http.server 9000", session: "server")
        var sleeping = ""
        for _ in 0..<50 where sleeping != "2\n" {
            try await Task.sleep(for: .milliseconds(100))
            sleeping = try await sandboxes.exec(sandbox, "pgrep -c sleep")["stdout"] as? String ?? ""
        }
        #expect(sleeping == "2\n")
        #expect(try await status(client, key, sandbox, "server")["status"] as? String == "running")
        try await client.execute(uri: "/api/sandboxes/\(sandbox)/sessions/server", method: .delete, headers: .bearer(key)) { response in
            #expect(response.status == .ok)
        }
        #expect(try await sandboxes.run(sandbox, "ps -e -o comm= | grep -c -e sleep -e python3 || true") == "0\n")
        let body = try await status(client, key, sandbox, "server")
        #expect(body["status"] as? String == "exited")
        #expect((body["commands"] as? [[String: Any]])?.first?["exit_code"] as? Int == 137)
        try await client.execute(uri: "/api/sandboxes/\(sandbox)/sessions/nope/status", method: .get, headers: .bearer(key)) { response in
            #expect(response.status == .notFound)
        }
        try await client.execute(uri: "/api/sandboxes/\(sandbox)/sessions/..%2F..%2Fetc/status", method: .get, headers: .bearer(key)) { response in
            #expect(response.status == .notFound)
        }
        _ = try await sandboxes.delete(sandbox)
    }

    @Test func sessionLogsSurviveAHostRestart() async throws {
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let host = try await HostProcess(dataDir: dataDir)
        let key = try host.adminKey
        let (_, sandbox) = try await host.createSandbox(key: key)
        _ = try await host.request(.POST, "/api/sandboxes/\(sandbox)/execute", key: key, body: #"{"command":"echo before-restart; sleep 1000","blocking":false,"session_name":"dev"}"#)
        try await waitUntil("the session to log its line") {
            try await host.request(.GET, "/api/sandboxes/\(sandbox)/sessions/dev/status", key: key).body.contains("before-restart")
        }
        try await host.stop()

        let restarted = try await HostProcess(dataDir: dataDir)
        let status = try await restarted.request(.GET, "/api/sandboxes/\(sandbox)/sessions/dev/status", key: key)
        #expect(status.status == 200)
        #expect(status.body.contains("before-restart"))
        let sandboxState = try await restarted.request(.GET, "/api/sandboxes/\(sandbox)", key: key)
        #expect(sandboxState.body.contains("\"state\":\"stopped\""), "the sandbox ended with the host that ran it")
        // The sandbox starts again on demand, and the session's log continues.
        let again = try await restarted.request(.POST, "/api/sandboxes/\(sandbox)/execute", key: key, body: #"{"command":"echo after-restart","blocking":false,"session_name":"dev"}"#)
        #expect(again.status == 200)
        try await waitUntil("the restarted session to log its line") {
            try await restarted.request(.GET, "/api/sandboxes/\(sandbox)/sessions/dev/status", key: key).body.contains("after-restart")
        }
        let stream = try await restarted.request(.GET, "/api/sandboxes/\(sandbox)/sessions/dev/stream", key: key)
        #expect(stream.body.contains("before-restart") && stream.body.contains("after-restart"))
        try await restarted.stop()
    }
}

@Suite(.enabled(if: runningAsRoot, "sandboxes need root, as in CI"))
struct HostCrashTests {
    /// Host pids of processes whose command line is exactly `words`.
    static func processes(running words: [String]) -> [String] {
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
        return pids.filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) } == words
        }.compactMap(HostSnapshot.identity)
    }

    @Test func killDashNineOfTheHostEndsItsSandboxesAndARestartCleansUp() async throws {
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let host = try await HostProcess(dataDir: dataDir)
        let key = try host.adminKey
        let (_, sandbox) = try await host.createSandbox(key: key)
        let marker = "\(Int.random(in: 100_000...999_999))"
        _ = try await host.request(.POST, "/api/sandboxes/\(sandbox)/execute", key: key, body: #"{"command":"setsid sleep \#(marker) & sleep \#(marker)","blocking":false,"session_name":"s"}"#)
        var sleepers: [String] = []
        for _ in 0..<50 where sleepers.count < 2 {
            try await Task.sleep(for: .milliseconds(50))
            sleepers = Self.processes(running: ["sleep", marker])
        }
        #expect(sleepers.count == 2)

        try await host.stop(signal: SIGKILL)
        // PID 1 sees its control socket close and exits; the kernel ends the rest of the sandbox.
        for _ in 0..<100 where !HostSnapshot.alive(sleepers).isEmpty { try await Task.sleep(for: .milliseconds(20)) }
        #expect(HostSnapshot.alive(sleepers).isEmpty, "sandbox processes outlived the host")

        let restarted = try await HostProcess(dataDir: dataDir)
        let key6 = SandboxRuntime.instanceKey(dataDir)
        let left = ["memory", "pids", "cpu", "cpuacct", "freezer"].filter { FileManager.default.fileExists(atPath: "/sys/fs/cgroup/\($0)/sandbox-host/\(key6)/\(sandbox)") }
        #expect(left.isEmpty, "cgroups left after restart: \(left)")
        let state = try await restarted.request(.GET, "/api/sandboxes/\(sandbox)", key: key)
        #expect(state.body.contains("\"state\":\"stopped\""))
        let again = try await restarted.request(.POST, "/api/sandboxes/\(sandbox)/execute", key: key, body: #"{"command":"echo back"}"#)
        #expect(again.body.contains("\"stdout\":\"back\\n\""), "\(again.body)")
        try await restarted.stop()
    }
}
