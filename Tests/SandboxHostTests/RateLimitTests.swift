import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost

@Suite struct RateLimitTests {
    @Test(.testHost(configure: { $0.rateLimitPerSecond = 0.01; $0.rateLimitBurst = 3 })) func aKeyThatSpendsItsBucketGets429WithRetryAfter() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let other = try host.makeUser("other")
        for _ in 0..<3 {
            try await client.execute(uri: "/api/projects", method: .get, headers: .bearer(host.adminKey)) { response in
                #expect(response.status == .ok)
            }
        }
        try await client.execute(uri: "/api/projects", method: .get, headers: .bearer(host.adminKey)) { response in
            #expect(response.status == .tooManyRequests)
            #expect(response.json["code"] as? String == "RATE_LIMITED")
            let retry = Int(response.headers[.retryAfter] ?? "")
            #expect(retry != nil && retry! >= 1 && retry! <= 100)
        }
        // Buckets are per key: another user is not slowed down.
        try await client.execute(uri: "/api/projects", method: .get, headers: .bearer(other)) { response in
            #expect(response.status == .ok)
        }
        // Health checks are never limited.
        try await client.execute(uri: "/api/health", method: .get) { response in
            #expect(response.status == .ok)
        }
    }

    @Test func bucketRefillsAtTheConfiguredRate() {
        let limiter = RateLimiter(ratePerSecond: 2, burst: 2)
        #expect(limiter.acquire("k", now: 100) == nil)
        #expect(limiter.acquire("k", now: 100) == nil)
        #expect(limiter.acquire("k", now: 100) == 1)
        #expect(limiter.acquire("k", now: 100.5) == nil)
        #expect(limiter.acquire("k", now: 100.5) != nil)
        #expect(limiter.acquire("k", now: 110) == nil)
    }

    @Test func zeroRateTurnsTheLimitOff() {
        let limiter = RateLimiter(ratePerSecond: 0, burst: 1)
        #expect((0..<10_000).allSatisfy { _ in limiter.acquire("k", now: 1) == nil })
    }
}
