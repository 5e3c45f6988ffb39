import FileAPI
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost

extension HeavySuites {
    /// Deletes racing the requests that would start the sandbox again, against the real runtime.
    @Suite(.enabled(if: runningAsRoot, "sandboxes need root, as in CI"))
    struct SandboxRemovalRaceTests {
        /// The attack of issue 14: a sandbox is deleted while `execute` requests keep coming; any
        /// command that runs inside keeps replacing directories of its root layer (which the host is
        /// removing) with links to a canary outside the data directory. The delete must neither
        /// restart the sandbox nor follow a link: the canary survives, and nothing of the sandbox is
        /// left (no process, no cgroup, no files).
        @Test(.hostWithSandbox, .timeLimit(.minutes(5))) func deleteRacingExecuteNeverRestartsOrFollowsLinks() async throws {
            let fixture = try HostFixture.current
            let host = fixture.host, client = fixture.client, sandboxes = fixture.sandboxes
            let sandbox = fixture.sandbox
            let outside = try TemporaryDirectory.make()
            defer { _ = try? TreeRemover().remove(path: outside) }
            let canary = try Canary(in: outside, files: 500)
            let populated = try await sandboxes.exec(
                sandbox, "for i in $(seq 0 59); do mkdir -p /race/d$i/sub && cd /race/d$i/sub && seq -f f%g 0 499 | xargs touch; done", timeout: 300)
            try #require(populated["exit_code"] as? Int == 0, "\(populated)")
            let attack = """
                end=$(( $(date +%s) + 4 ))
                while [ $(date +%s) -lt $end ]; do
                  for d in /race/*; do
                    if [ -d "$d" ] && [ ! -L "$d" ]; then n=/race/r$RANDOM$RANDOM; mv "$d" "$n" 2>/dev/null && ln -s '\(canary.path)' "$d" 2>/dev/null; fi
                  done
                done
                """
            let body = try JSONSerialization.data(withJSONObject: ["command": attack, "timeout": 10])
            let statuses = try await withThrowingTaskGroup(of: [HTTPResponse.Status].self) { group in
                group.addTask { [try await sandboxes.delete(sandbox)] }
                for _ in 0..<3 {
                    group.addTask {
                        var seen: [HTTPResponse.Status] = []
                        let deadline = ContinuousClock.now + .seconds(8)
                        while ContinuousClock.now < deadline {
                            let status = try await client.execute(
                                uri: "/api/sandboxes/\(sandbox)/execute", method: .post, headers: .bearer(host.adminKey),
                                body: ByteBuffer(data: body)) { $0.status }
                            seen.append(status)
                            if status == .notFound { break }
                        }
                        return seen
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(statuses.allSatisfy { $0 == .ok || $0 == .notFound }, "\(statuses)")
            let damage = canary.damage()
            #expect(damage.isEmpty, "\(damage.count) canary files hit, e.g. \(damage.prefix(3))")
            #expect(await host.services.runtime.isRunning(sandbox) == false)
            #expect(try await sandboxes.get(sandbox).status == .notFound)
            #expect(HostSnapshot.cgroupDirectories(instanceOf: host) == 0)
            #expect(!FileManager.default.fileExists(atPath: host.directory + "/sandboxes/" + sandbox))
        }

        /// Two DELETEs of one project at once (what the fuzzer found: a 500 when both removed the
        /// same files), with an `ensure-active` racing them: never a 500; one delete answers 200, the
        /// other 200 or 404; the project, its sandbox and its files are gone; nothing is left running.
        @Test(.testHost, .timeLimit(.minutes(5))) func concurrentProjectDeletesNeverFail() async throws {
            let fixture = try HostFixture.current
            let host = fixture.host, client = fixture.client
            let sandboxes = SandboxClient(client: client, key: host.adminKey)
            for round in 0..<3 {
                let (project, sandbox) = try await sandboxes.create(name: "round\(round)")
                let populated = try await sandboxes.exec(sandbox, """
                    mkdir -p /big/a /big/b /workspace/w && for d in /big/a /big/b /workspace/w; do (cd $d && seq -f f%g 0 1999 | xargs touch); done
                    """, timeout: 300)
                try #require(populated["exit_code"] as? Int == 0, "\(populated)")
                let workspace = host.services.workspaces.path(projectID: project)
                let results = try await withThrowingTaskGroup(of: (String, HTTPResponse.Status).self) { group in
                    for _ in 0..<2 {
                        group.addTask {
                            ("delete", try await client.execute(uri: "/api/projects/\(project)", method: .delete, headers: .bearer(host.adminKey)) { $0.status })
                        }
                    }
                    if round > 0 {
                        group.addTask {
                            try await Task.sleep(for: .milliseconds(20 * round))
                            return ("ensure", try await client.execute(
                                uri: "/api/project/\(project)/sandbox/ensure-active", method: .post, headers: .bearer(host.adminKey)) { $0.status })
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                let deletes = results.filter { $0.0 == "delete" }.map(\.1)
                #expect(deletes.contains(.ok), "round \(round): \(results)")
                #expect(results.allSatisfy { $0.1 == .ok || $0.1 == .notFound }, "round \(round): \(results)")
                try await client.execute(uri: "/api/projects/\(project)", method: .get, headers: .bearer(host.adminKey)) { response in
                    #expect(response.status == .notFound)
                }
                #expect(!FileManager.default.fileExists(atPath: workspace), "round \(round)")
            }
            let left = (try? FileManager.default.contentsOfDirectory(atPath: host.directory + "/sandboxes")) ?? []
            #expect(left.isEmpty, "sandbox directories left: \(left)")
            #expect(HostSnapshot.cgroupDirectories(instanceOf: host) == 0)
        }
    }
}
