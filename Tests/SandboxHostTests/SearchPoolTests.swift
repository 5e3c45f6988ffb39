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
            // Bounded: if the test fails before it opens the gate, leaving its scope waits for
            // this search, which must then end by itself (an unbounded wait hung a whole suite).
            _ = gate.wait(timeout: .now() + 30)
            return 1
        }
        try await waitUntil("the first search to start", timeout: .seconds(10)) { started.value == 1 }
        // The one thread is busy: of two more, one waits its turn and the other is refused.
        let refused = Locked(0)
        @Sendable func search(_ value: Int) async -> Int? {
            do { return try await pool.run { value } } catch { refused.mutate { $0 += 1 }; return nil }
        }
        async let second = search(2)
        async let third = search(3)
        // One refused means the other holds the queue's one place.
        do {
            try await waitUntil("one of the two to be refused", timeout: .seconds(10)) { refused.value >= 1 }
        } catch {
            (0..<3).forEach { _ in gate.signal() }  // nothing left blocked on the gate
            throw error
        }
        gate.signal()
        let results = await [second, third]
        #expect(try await first == 1)
        #expect(results.compactMap { $0 }.count == 1, "\(results)")
        // Once free, the pool takes searches again.
        #expect(try await pool.run { 4 } == 4)
    }
}
