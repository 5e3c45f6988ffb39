/// How often and how long to wait before asking a failing provider again: exponential backoff
/// with a cap, a provider's `Retry-After` honoured up to that cap, and a bounded number of tries.
public struct RetryPolicy: Sendable {
    public var attempts: Int
    public var initialDelay: Duration
    public var maxDelay: Duration

    public init(attempts: Int = 5, initialDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(8)) {
        self.attempts = max(1, attempts)
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
    }

    func delay(afterAttempt attempt: Int, error: AgentLoopError) -> Duration {
        if let seconds = (error.cause as? RetryAfter)?.seconds, seconds >= 0 {
            return min(maxDelay, .milliseconds(Int64(seconds * 1000)))
        }
        var delay = initialDelay
        for _ in 1..<max(1, attempt) { delay = min(maxDelay, delay * 2) }
        return delay
    }

    /// Runs `body` until it succeeds, fails for good, or the attempts are spent.
    func run(_ body: () async throws -> Void) async throws {
        var attempt = 1
        while true {
            do {
                return try await body()
            } catch let error as AgentLoopError where error.isRetryable && attempt < attempts {
                try await Task.sleep(for: delay(afterAttempt: attempt, error: error))
                attempt += 1
            }
        }
    }
}
