import Foundation
import Logging
import Testing
@testable import SandboxHost
@testable import SandboxRuntime

extension HeavySuites {
    /// Starts never wait on one another for a `DedicatedThread`: a start whose network attach
    /// needs a thread of its own must not hold one while it waits (with every slot held by such
    /// starts, none would ever end: the review's H1). Heavy: it holds all but one slot of the
    /// process, which parallel tests would feel.
    @Suite(.enabled(if: runningAsRoot, "sandboxes need root, as in CI"), .timeLimit(.minutes(1)))
    struct StartSlotTests {
        @Test(.testHost) func aStartWithTheLastFreeSlotStillGetsItsNetworkAttached() async throws {
            let fixture = try HostFixture.current
            let services = fixture.host.services
            let network = SlotTakingNetwork()
            var logger = Logger(label: "test")
            logger.logLevel = .warning
            let runtime = try SandboxRuntime(
                configuration: await services.runtime.configuration, store: services.sandboxes, workspaces: services.workspaces,
                logger: logger, networking: network)
            let project = try await createProject(fixture.client, key: fixture.key)

            // Every slot but one held, as by other starts, deletes or writes to a slow disk.
            let release = Locked(false)
            let holders = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<(DedicatedThread.maxThreads - 1) {
                        group.addTask {
                            try await DedicatedThread.run("holder") {
                                while !release.value { usleep(1_000) }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            defer { release.mutate { $0 = true } }
            try await waitUntil("the holders run", timeout: .seconds(20)) { DedicatedThread.running >= DedicatedThread.maxThreads - 1 }

            let started = Task { try await runtime.ensureActive(projectID: project, image: "default") }
            let done = Locked(false)
            Task {
                _ = try? await started.value
                done.mutate { $0 = true }
            }
            let startedInTime = (try? await waitUntil("the start", timeout: .seconds(15)) { done.value }) != nil
            release.mutate { $0 = true }
            try await holders.value
            _ = try await started.value
            #expect(startedInTime, "the start and its attach waited on each other for the last slot")
            #expect(network.attaches.value == 1)
            await runtime.stopAll()
        }
    }
}
