import Foundation
import Synchronization
import Testing
@testable import SandboxHost
@testable import SandboxRuntime

/// `SandboxRuntime.whileClosed`, which a project's DELETE runs in: one body at a time per project,
/// waiters queue without spinning, and `ensureActive` refuses the project meanwhile.
@Suite struct ProjectClosingTests {
    @Test(.testHost, .timeLimit(.minutes(1))) func deletesOfOneProjectRunOneAtATime() async throws {
        let host = try HostFixture.current.host
        let runtime = host.services.runtime
        let inside = Overlap()
        for _ in 0..<40 {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        try await runtime.whileClosed(project: "p") {
                            inside.state.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
                            await Task.yield()
                            inside.state.withLock { $0.now -= 1; $0.done += 1 }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        #expect(inside.state.withLock { $0.most } == 1)
        #expect(inside.state.withLock { $0.done } == 240)
    }

    @Test(.testHost) func ensureActiveRefusesAProjectBeingDeleted() async throws {
        let host = try HostFixture.current.host
        let runtime = host.services.runtime
        let status: RuntimeError.Code? = try await runtime.whileClosed(project: "p") {
            do {
                _ = try await runtime.ensureActive(projectID: "p", image: "default")
                return nil
            } catch let error as RuntimeError {
                return error.code
            }
        }
        #expect(status == .notFound)
    }
}

/// Bodies inside at once, the most ever, and how many finished.
private final class Overlap: Sendable {
    let state = Mutex((now: 0, most: 0, done: 0))
}
