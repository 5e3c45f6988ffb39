import Foundation
import Testing

/// The tests' waits end: a condition that never holds fails the test at its deadline instead of
/// hanging the suite, and one that holds ends the wait at once.
@Suite struct WaitingTests {
    @Test func aWaitThatNeverEndsFailsAtItsDeadline() async throws {
        let start = ContinuousClock.now
        let error = await #expect(throws: WaitTimedOut.self) {
            try await waitUntil("a condition that never holds", timeout: .milliseconds(300)) { false }
        }
        #expect(error?.description == "waited 0.3 seconds for a condition that never holds")
        #expect(ContinuousClock.now - start < .seconds(60), "the wait ended, if late on a loaded machine")
        #expect(!pollUntil(timeout: .milliseconds(100)) { false })
    }

    @Test func aWaitEndsWhenItsConditionHolds() async throws {
        let checks = Locked(0)
        try await waitUntil("the third check") { checks.mutate { $0 += 1; return $0 >= 3 } }
        #expect(checks.value == 3)
        #expect(pollUntil { true })
    }
}
