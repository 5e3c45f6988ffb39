#if canImport(Glibc)
import Glibc
#endif
import SandboxRuntime
import Synchronization

/// A token bucket per API key: `ratePerSecond` tokens refill each second, up to `burst`.
///
/// Thread-safe; the hot path is one lock and no allocation for a known key.
public final class RateLimiter: Sendable {
    public let ratePerSecond: Double
    public let burst: Double
    private let buckets = Mutex<[String: Bucket]>([:])

    private struct Bucket {
        var tokens: Double
        var updated: Double
    }

    public init(ratePerSecond: Double, burst: Double) {
        self.ratePerSecond = ratePerSecond
        self.burst = max(1, burst)
    }

    /// Takes one token for `key`. Answers nil when allowed, or the seconds to wait before retrying.
    public func acquire(_ key: String, now: Double = MonotonicClock.seconds()) -> Int? {
        guard ratePerSecond > 0 else { return nil }
        return buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: burst, updated: now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * ratePerSecond)
            bucket.updated = now
            defer { buckets[key] = bucket }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return max(1, Int(((1 - bucket.tokens) / ratePerSecond).rounded(.up)))
        }
    }

}
