import Foundation
import Testing

/// Polls `condition` every `interval` until it holds. Past `timeout` it throws `WaitTimedOut`
/// (naming `what`), which fails the test instead of hanging the suite.
func waitUntil(
    _ what: String, timeout: Duration = .seconds(30), every interval: Duration = .milliseconds(20),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw WaitTimedOut(what: what, timeout: timeout) }
        try await Task.sleep(for: interval)
    }
}

/// The blocking form, for synchronous tests: polls `condition` every `interval`, blocking the
/// calling thread, until it holds or `timeout` passes; answers whether it held.
func pollUntil(timeout: Duration = .seconds(5), every interval: Duration = .milliseconds(10), _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { return false }
        Thread.sleep(forTimeInterval: Double(interval.components.attoseconds) / 1e18 + Double(interval.components.seconds))
    }
    return true
}

struct WaitTimedOut: Error, CustomStringConvertible {
    let what: String
    let timeout: Duration
    var description: String { "waited \(timeout) for \(what)" }
}
