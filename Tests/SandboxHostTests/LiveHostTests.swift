import AsyncHTTPClient
import Foundation
import Synchronization
import Testing

/// The real binary: crash safety, graceful shutdown, logs and the CLI.
@Suite(.serialized) struct LiveHostTests {
    @Test func killDashNineDuringWritesLosesNoAcknowledgedWrite() async throws {
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let host = try await HostProcess(dataDir: dataDir)
        let key = try String(contentsOfFile: dataDir + "/admin.key", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)

        let acknowledged = Locked<[String]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    for index in 0..<10_000 {
                        guard let (status, body) = try? await host.request(.POST, "/api/projects", key: key, body: #"{"name":"w\#(writer)-\#(index)"}"#) else {
                            return  // the host is gone: stop writing
                        }
                        guard status == 201 else { return }
                        let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
                        if let id = object?["project_id"] as? String { acknowledged.mutate { $0.append(id) } }
                    }
                }
            }
            group.addTask {
                // Writers that stop early (the host failing them) would leave this short forever.
                do {
                    try await waitUntil("200 acknowledged writes", timeout: .seconds(60), every: .milliseconds(5)) { acknowledged.value.count >= 200 }
                } catch {
                    _ = try? await host.stop(signal: SIGKILL)  // no host left running, the writers end
                    throw error
                }
                try await host.stop(signal: SIGKILL)
            }
            try await group.waitForAll()
        }
        let written = acknowledged.value
        #expect(written.count >= 200)

        let restarted = try await HostProcess(dataDir: dataDir)
        let (status, body) = try await restarted.request(.GET, "/api/projects", key: key)
        #expect(status == 200)
        let projects = (try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["projects"] as? [[String: Any]] ?? []
        let present = Set(projects.compactMap { $0["project_id"] as? String })
        let lost = written.filter { !present.contains($0) }
        #expect(lost.isEmpty, "\(lost.count) of \(written.count) acknowledged projects lost")
        // Every acknowledged project kept its workspace (none was swept as an orphan).
        for id in written.prefix(20) {
            #expect(FileManager.default.fileExists(atPath: dataDir + "/workspaces/" + id))
        }
        try await restarted.stop()
    }

    @Test func sigtermShutsDownGracefullyAndLogsNeverHoldTheKey() async throws {
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        // The first start prints the new admin key once, by design; the second must not.
        let first = try await HostProcess(dataDir: dataDir)
        try await first.stop()
        let key = try String(contentsOfFile: dataDir + "/admin.key", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(first.log.contains(key))

        let host = try await HostProcess(dataDir: dataDir, environment: ["SANDBOX_HOST_LOG_LEVEL": "trace"])
        _ = try await host.request(.GET, "/api/projects", key: key)
        _ = try await host.request(.GET, "/api/agent-run/x/stream?token=\(key)", key: nil)
        _ = try await host.request(.GET, "/api/projects?token=\(key)", key: nil)
        _ = try await host.request(.POST, "/api/projects", key: key, body: #"{"name":"logged"}"#)
        let status = try await host.stop(signal: SIGTERM)
        #expect(status == 0)
        let log = host.log
        #expect(log.contains("path=/api/agent-run/x/stream"), "request lines are logged")
        #expect(log.contains("sandbox-host stopped"))
        #expect(!log.contains(key), "the API key appeared in the log")
        #expect(!log.contains(String(key.suffix(64))), "the key's secret appeared in the log")
    }

    @Test func cliCreatesListsAndRevokesKeysThatTheRunningHostHonours() async throws {
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let host = try await HostProcess(dataDir: dataDir)

        let created = try HostProcess.command(["users", "create", "bob", "--data-dir", dataDir])
        #expect(created.status == 0, "\(created.output)")
        let bobKey = try #require(created.output.split(separator: "\n").last.map(String.init))
        #expect(bobKey.hasPrefix("sbx_"))
        #expect(try await host.request(.GET, "/api/projects", key: bobKey).status == 200)

        let duplicate = try HostProcess.command(["users", "create", "bob", "--data-dir", dataDir])
        #expect(duplicate.status != 0)
        #expect(duplicate.output.contains("already exists"))

        let second = try HostProcess.command(["keys", "create", "--user", "bob", "--data-dir", dataDir])
        #expect(second.status == 0)
        let secondKey = try #require(second.output.split(separator: "\n").last.map(String.init))
        #expect(secondKey != bobKey)

        let listed = try HostProcess.command(["keys", "list", "--data-dir", dataDir])
        #expect(listed.status == 0)
        #expect(!listed.output.contains(bobKey), "keys list must never show a key")
        let bobKeyID = String(bobKey.dropFirst(4).prefix(24))
        #expect(listed.output.contains(bobKeyID))
        #expect(listed.output.contains("admin"))

        let revoked = try HostProcess.command(["keys", "revoke", bobKeyID, "--data-dir", dataDir])
        #expect(revoked.status == 0)
        #expect(try await host.request(.GET, "/api/projects", key: bobKey).status == 401)
        #expect(try await host.request(.GET, "/api/projects", key: secondKey).status == 200)

        let unknown = try HostProcess.command(["keys", "create", "--user", "nobody", "--data-dir", dataDir])
        #expect(unknown.status != 0)
        try await host.stop()
    }

    @Test func doctorPassesAsRoot() throws {
        let result = try HostProcess.command(["doctor"])
        #expect(result.output.contains("namespaces"))
        #expect(result.output.contains("cgroups"))
        if geteuid() == 0 {
            #expect(result.status == 0, "\(result.output)")
        }
    }
}
