import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
@testable import SandboxHost
@testable import SandboxRuntime

/// The runtime's side of a policy change: persisted before it is applied, applied to a running
/// sandbox only, in the order the changes came.
@Suite struct NetworkPolicyRuntimeTests {
    @Test(.testHost) func changesArePersistedThenAppliedToTheRunningSandboxInOrder() async throws {
        let fixture = try HostFixture.current
        let services = fixture.host.services
        let projectID = Locked("")
        let network = RecordingNetwork { try await services.sandboxes.forProject(projectID.value)?.network }
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let configuration = await services.runtime.configuration
        let runtime = try SandboxRuntime(
            configuration: configuration, store: services.sandboxes, workspaces: services.workspaces,
            logger: logger, networking: network)
        let project = try await createProject(fixture.client, key: fixture.key)
        projectID.mutate { $0 = project }
        let userID = try services.database.runBlocking { try $0.query("SELECT id FROM users").first!.text("id") }

        // Stopped: persisted, not applied; the next start would get it.
        let record = try await services.sandboxes.findOrCreate(projectID: project, image: "default", limits: configuration.defaultLimits)
        let none = NetworkPolicy.none
        try await runtime.updateNetworkPolicy(sandboxID: record.id, policy: none) {
            _ = try await services.sandboxes.setNetwork(sandboxID: record.id, userID: userID, none)
        }
        #expect(network.applied.value.isEmpty)
        #expect(await runtime.networkPolicy(for: record) == none)

        _ = try await runtime.ensureActive(projectID: project, image: "default")
        defer { Task { await runtime.stopAll() } }
        // Running: two changes at once, the first slower to apply; they land in the order sent.
        let slow = NetworkPolicy(mode: .allowlist, allowOut: [.domain("pypi.org")])
        let fast = NetworkPolicy(mode: .open, denyOut: [.domain("evil.example")])
        async let first: Void = runtime.updateNetworkPolicy(sandboxID: record.id, policy: slow) {
            _ = try await services.sandboxes.setNetwork(sandboxID: record.id, userID: userID, slow)
        }
        try await Task.sleep(for: .milliseconds(5))
        async let second: Void = runtime.updateNetworkPolicy(sandboxID: record.id, policy: fast) {
            _ = try await services.sandboxes.setNetwork(sandboxID: record.id, userID: userID, fast)
        }
        _ = try await (first, second)
        #expect(network.applied.value == [slow, fast])
        #expect(network.storedAtApply.value == [slow, fast])
        #expect(try await services.sandboxes.forProject(project)?.network == fast)
        #expect(await runtime.networkPolicy(for: record) == fast)
        await runtime.stopAll()
    }

    @Test(.testHost) func aPolicyTheNetworkCannotTakeStopsTheSandbox() async throws {
        let fixture = try HostFixture.current
        let services = fixture.host.services
        let projectID = Locked("")
        let network = RecordingNetwork { try await services.sandboxes.forProject(projectID.value)?.network }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let runtime = try SandboxRuntime(
            configuration: await services.runtime.configuration, store: services.sandboxes, workspaces: services.workspaces,
            logger: logger, networking: network)
        let project = try await createProject(fixture.client, key: fixture.key)
        projectID.mutate { $0 = project }
        let userID = try services.database.runBlocking { try $0.query("SELECT id FROM users").first!.text("id") }
        let record = try await runtime.ensureActive(projectID: project, image: "default")
        defer { Task { await runtime.stopAll() } }
        #expect(await runtime.isRunning(record.id))

        network.failsApply.mutate { $0 = true }
        let none = NetworkPolicy.none
        await #expect(throws: RuntimeError.self) {
            try await runtime.updateNetworkPolicy(sandboxID: record.id, policy: none) {
                _ = try await services.sandboxes.setNetwork(sandboxID: record.id, userID: userID, none)
            }
        }
        // Fail closed: not left running under its older, wider policy; the next start gets the new one.
        #expect(!(await runtime.isRunning(record.id)))
        #expect(try await services.sandboxes.forProject(project)?.network == none)
        #expect(await runtime.networkPolicy(for: record) == none)
    }
}
