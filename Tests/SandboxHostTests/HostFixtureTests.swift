import Foundation
import Testing
@testable import SandboxHost

/// The `.hostWithSandbox` fixture: the body sees a running sandbox on a fresh host, and whatever
/// way the body ends, the host goes afterwards (its sandbox's processes, its data directory).
@Suite(.enabled(if: runningAsRoot, "sandboxes need root, as in CI"))
struct HostFixtureTests {
    struct BodyFailed: Error {}

    @Test func aFailingBodyStillLeavesNoHostBehind() async throws {
        let seen = Locked<(directory: String, pid1: Int32)?>(nil)
        let fixture: HostFixture = .hostWithSandbox
        await #expect(throws: BodyFailed.self) {
            try await fixture.provideScope(for: try #require(Test.current), testCase: nil) {
                let scope = try HostFixture.current
                #expect(try await scope.sandboxes.get(scope.sandbox).body["state"] as? String == "running")
                #expect(try await scope.sandboxes.get(scope.sandbox).body["project_id"] as? String == scope.project)
                let pid1 = try #require(await scope.host.services.runtime.initPID(scope.sandbox))
                seen.mutate { $0 = (scope.host.directory, pid1) }
                throw BodyFailed()
            }
        }
        let (directory, pid1) = try #require(seen.value)
        #expect(!FileManager.default.fileExists(atPath: directory), "the data directory is left")
        try await waitUntil("the sandbox's PID 1 to be gone", timeout: .seconds(10)) { access("/proc/\(pid1)", F_OK) != 0 }
        #expect(throws: HostFixture.NoFixture.self, "no scope outside the fixture") { try HostFixture.current }
    }

    @Test(.testHost) func aPlainHostHasNoProject() async throws {
        let scope = try HostFixture.current
        #expect(scope.made == nil)
        #expect(try await scope.client.execute(uri: "/api/projects", method: .get, headers: .bearer(scope.key)) { $0.json["projects"] as? [Any] }?.isEmpty == true)
    }
}
