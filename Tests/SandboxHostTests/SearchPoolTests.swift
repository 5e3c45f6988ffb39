import Foundation
import Testing
@testable import SandboxHost

/// Searches run on threads of their own, a few at once, a few more waiting, the rest refused.
@Suite struct SearchPoolTests {
    @Test func runsAFewAtOnceQueuesAFewAndRefusesTheRest() async throws {
        let pool = SearchPool(threads: 1, queue: 1)
        let gate = DispatchSemaphore(value: 0)
        let started = Locked(0)
        async let first: Int = pool.run {
            started.mutate { $0 += 1 }
            gate.wait()
            return 1
        }
        while started.value < 1 { try await Task.sleep(for: .milliseconds(5)) }
        // The one thread is busy: of two more, one waits its turn and the other is refused.
        async let second: Int? = try? pool.run { 2 }
        async let third: Int? = try? pool.run { 3 }
        try await Task.sleep(for: .milliseconds(200))
        gate.signal()
        let results = await [second, third]
        #expect(try await first == 1)
        #expect(results.compactMap { $0 }.count == 1, "\(results)")
        // Once free, the pool takes searches again.
        #expect(try await pool.run { 4 } == 4)
    }
}
