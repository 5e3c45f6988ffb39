import Foundation
import Logging
import NIOCore
import SandboxRuntime
import Testing
@testable import SandboxNetwork

/// The sandboxes' resolver, on loopback, against a stub upstream (StubDNSUpstream): sandboxes are
/// loopback source addresses (127.0.0.1 is sandbox `sb-one`, 127.0.0.3 is `sb-three`, 127.0.0.2 is
/// nobody), their policies given by a fake `ResolverClients`.
/// In HeavySuites: its floods (10,000 queries, 2,000 garbage packets) load the machine that the
/// light suites' timing checks run on, and its own deadlines suffer under their load.
extension HeavySuites {
@Suite struct DNSResolverTests {
    static let one: [UInt8] = [127, 0, 0, 1]
    static let three: [UInt8] = [127, 0, 0, 3]

    static let testLimits: DNSResolver.Limits = {
        var limits = DNSResolver.Limits()
        // Long enough that a loaded machine (the suite runs many tests at once) does not close a
        // connection whose query has arrived but was not read yet.
        limits.idleTimeout = .seconds(3)
        return limits
    }()

    /// A stub upstream and a resolver on a free loopback port, `policy` for sandbox `sb-one`
    /// (127.0.0.1) and `open` for `sb-three` (127.0.0.3); both stopped however `body` ends.
    static func withResolver(
        _ policy: NetworkPolicy, limits: DNSResolver.Limits = testLimits, allowDelay: Duration = .zero, allowFails: Bool = false,
        upstream: ((StubDNSUpstream) -> [DNSUpstream])? = nil,
        _ body: (_ port: Int, _ stub: StubDNSUpstream, _ clients: FakeResolverClients, _ resolver: DNSResolver) async throws -> Void
    ) async throws {
        let stub = try await StubDNSUpstream.start()
        let clients = FakeResolverClients(
            [one: ("sb-one", policy), three: ("sb-three", .open)], allowDelay: allowDelay, allowFails: allowFails)
        let upstreams = upstream?(stub) ?? [DNSUpstream(address: AddressBlock(bytes: [127, 0, 0, 1], prefix: 32)!, port: stub.port)]
        let resolver = DNSResolver(clients: clients, upstreams: upstreams, limits: limits, logger: Logger(label: "dns-test"))
        let port: Int
        do {
            port = try await resolver.start(address: [127, 0, 0, 1], port: 0)
        } catch {
            await stub.stop()
            throw error
        }
        do {
            try await body(port, stub, clients, resolver)
        } catch {
            await resolver.stop()
            await stub.stop()
            throw error
        }
        await resolver.stop()
        await stub.stop()
    }

    @Test func openModeForwardsAndLearnsNothing() async throws {
        try await Self.withResolver(.open) { port, stub, clients, _ in
            let probe = try await DNSProbe.udp()
            defer { Task { await probe.close() } }
            let query = DNSProbe.query("a.test")
            let answer = try #require(await probe.ask(query, port: port))
            #expect(answer.id == DNSMessage(parsing: query)?.id)
            #expect(answer.responseCode == 0)
            #expect(answer.answers.compactMap(\.address) == [[198, 51, 100, 7]])
            #expect(answer.answers.map(\.ttl) == [5])
            let missing = try #require(await probe.ask(DNSProbe.query("missing.test"), port: port))
            #expect(missing.responseCode == 3)
            #expect(stub.wasAsked("missing.test"))
            #expect(clients.allowCalls.isEmpty)
        }
    }

    @Test func denyOutNamesGetNXDOMAINWithoutAskingUpstream() async throws {
        let policy = NetworkPolicy(mode: .open, denyOut: [.domain("a.test"), .wildcard("cdn.test")])
        try await Self.withResolver(policy) { port, stub, _, _ in
            let probe = try await DNSProbe.udp()
            defer { Task { await probe.close() } }
            for name in ["a.test", "A.Test", "x.cdn.test", "y.x.cdn.test"] {
                let answer = try #require(await probe.ask(DNSProbe.query(name), port: port), "\(name)")
                #expect(answer.responseCode == 3, "\(name)")
                #expect(answer.answers.isEmpty)
            }
            // `*.cdn.test` is not `cdn.test` itself.
            let apex = try #require(await probe.ask(DNSProbe.query("cdn.test"), port: port))
            #expect(apex.answers.compactMap(\.address) == [[198, 51, 100, 40]])
            #expect(!stub.wasAsked("a.test") && !stub.wasAsked("x.cdn.test") && !stub.wasAsked("y.x.cdn.test"))
        }
    }

    @Test func allowlistResolvesOnlyListedNamesAndOpensTheirAddresses() async throws {
        let policy = NetworkPolicy(mode: .allowlist, allowOut: [.wildcard("allowed.test"), .domain("x.cdn.test")])
        try await Self.withResolver(policy) { port, stub, clients, _ in
            let probe = try await DNSProbe.udp()
            defer { Task { await probe.close() } }
            let allowed = try #require(await probe.ask(DNSProbe.query("A.Allowed.Test"), port: port))
            #expect(allowed.answers.compactMap(\.address) == [[198, 51, 100, 8]])
            #expect(clients.allowCalls == [.init(sandboxID: "sb-one", addresses: ["198.51.100.8"], ttlSeconds: 600)])

            for name in ["a.test", "allowed.test", "cdn.test", "y.x.cdn.test"] {
                let refused = try #require(await probe.ask(DNSProbe.query(name), port: port), "\(name)")
                #expect(refused.responseCode == 3, "\(name)")
                #expect(!stub.wasAsked(name), "\(name)")
            }
            // A label that holds a dot is not the names it spells.
            let dotted = try #require(await probe.ask(DNSProbe.query(["a", "x.allowed", "test"]), port: port))
            #expect(dotted.responseCode == 3)
            #expect(!stub.log.contains { $0.contains("x.allowed") })
            #expect(clients.allowCalls.count == 1)
        }
    }

    @Test func allowlistTTLsAreClampedAndCNAMEChainsOpenTheFinalAddress() async throws {
        let policy = NetworkPolicy(mode: .allowlist, allowOut: [.wildcard("allowed.test")])
        try await Self.withResolver(policy) { port, _, clients, _ in
            let probe = try await DNSProbe.udp()
            defer { Task { await probe.close() } }
            let short = try #require(await probe.ask(DNSProbe.query("short.allowed.test"), port: port))
            #expect(short.answers.map(\.ttl) == [5])
            let long = try #require(await probe.ask(DNSProbe.query("long.allowed.test"), port: port))
            // The sandbox's cache keeps the name no longer than it is allowed.
            #expect(long.answers.map(\.ttl) == [3600])
            let chain = try #require(await probe.ask(DNSProbe.query("cname.allowed.test"), port: port))
            #expect(chain.answers.compactMap(\.address) == [[203, 0, 113, 9]])
            #expect(clients.allowCalls == [
                .init(sandboxID: "sb-one", addresses: ["198.51.100.10"], ttlSeconds: 30),
                .init(sandboxID: "sb-one", addresses: ["198.51.100.9"], ttlSeconds: 3600),
                .init(sandboxID: "sb-one", addresses: ["203.0.113.9"], ttlSeconds: 120),
            ])
        }
    }

    @Test func theAnswerWaitsUntilItsAddressesAreAllowed() async throws {
        let policy = NetworkPolicy(mode: .allowlist, allowOut: [.domain("a.allowed.test")])
        try await Self.withResolver(policy, allowDelay: .milliseconds(400)) { port, _, clients, _ in
            let probe = try await DNSProbe.udp()
            defer { Task { await probe.close() } }
            probe.send(DNSProbe.query("a.allowed.test"), to: port)
            let answer = try #require(await probe.receive())
            // `allow` records its call only when it returns: it must have before the answer came.
            #expect(clients.allowCalls.count == 1)
            #expect(DNSMessage(parsing: answer)?.answers.compactMap(\.address) == [[198, 51, 100, 8]])
        }
    }

    @Test func aRefusedAllowAnswersSERVFAIL() async throws {
        let policy = NetworkPolicy(mode: .allowlist, allowOut: [.domain("a.allowed.test")])
        try await Self.withResolver(policy, allowFails: true) { port, _, _, _ in
            let probe = try await DNSProbe.udp()
            defer { Task { await probe.close() } }
            let answer = try #require(await probe.ask(DNSProbe.query("a.allowed.test"), port: port))
            #expect(answer.responseCode == 2)
            #expect(answer.answers.isEmpty)
        }
    }

    @Test func aHugeAnswerLearnsAndGivesAtMost32Addresses() async throws {
        // A hostile name server answers with 1,000 addresses: the filter learns 32, and the
        // sandbox gets those 32, never an address it could not reach.
        let policy = NetworkPolicy(mode: .allowlist, allowOut: [.wildcard("allowed.test")])
        try await Self.withResolver(policy) { port, _, clients, _ in
            let tcp = try await DNSProbe.tcp(to: port)
            let udp = try await DNSProbe.udp()
            defer { Task { await tcp.close(); await udp.close() } }
            for (probe, edns) in [(tcp, nil), (udp, 4096)] as [(DNSProbe, Int?)] {
                let answer = try #require(await probe.ask(DNSProbe.query("many.allowed.test", edns: edns), port: port))
                #expect(answer.responseCode == 0)
                #expect(!answer.isTruncated)
                let given = answer.answers.compactMap(\.address).map { AddressBlock(bytes: $0, prefix: 32)!.description }
                #expect(given.count == 32)
                #expect(clients.allowCalls.last?.addresses == given)
            }
            #expect(clients.allowCalls.count == 2)
            #expect(clients.allowCalls.allSatisfy { $0.addresses.count == 32 })
        }
    }

    @Test func oneAllowInFlightPerSandbox() async throws {
        // 64 queries at once from one sandbox (its whole admission): the filter is asked for
        // one answer's addresses at a time, not 64 at once.
        let policy = NetworkPolicy(mode: .allowlist, allowOut: [.wildcard("allowed.test")])
        try await Self.withResolver(policy, allowDelay: .milliseconds(20)) { port, _, clients, resolver in
            let probe = try await DNSProbe.udp()
            defer { Task { await probe.close() } }
            let count = resolver.limits.queriesPerSandbox
            for _ in 0..<count { probe.send(DNSProbe.query("a.allowed.test"), to: port) }
            var answers = 0
            let deadline = ContinuousClock.now + .seconds(30)
            while answers < count, ContinuousClock.now < deadline {
                guard let reply = await probe.receive(timeout: .seconds(5)) else { break }
                if DNSMessage(parsing: reply)?.answers.compactMap(\.address) == [[198, 51, 100, 8]] { answers += 1 }
            }
            #expect(answers == count)
            #expect(clients.allowCalls.count == count)
            #expect(clients.peakAllowsInFlight == 1)
        }
    }

    @Test func noneModeAndUnknownSourcesGetNoAnswer() async throws {
        try await Self.withResolver(.none) { port, stub, _, _ in
            let sandbox = try await DNSProbe.udp(from: "127.0.0.1")
            let stranger = try await DNSProbe.udp(from: "127.0.0.2")
            let other = try await DNSProbe.udp(from: "127.0.0.3")
            defer { Task { await sandbox.close(); await stranger.close(); await other.close() } }
            sandbox.send(DNSProbe.query("a.test"), to: port)
            stranger.send(DNSProbe.query("a.test"), to: port)
            // The open sandbox beside them is answered, so the silence is the resolver's choice.
            let answered = try #require(await other.ask(DNSProbe.query("deny.test"), port: port))
            #expect(answered.answers.count == 1)
            #expect(await sandbox.receive(timeout: .seconds(1)) == nil)
            #expect(await stranger.receive(timeout: .milliseconds(100)) == nil)
            #expect(!stub.wasAsked("a.test"))
            // Nor over TCP: both connections are closed at once.
            let tcpNone = try await DNSProbe.tcp(to: port, from: "127.0.0.1")
            let tcpStranger = try await DNSProbe.tcp(to: port, from: "127.0.0.2")
            try await waitUntil("connections closed", timeout: .seconds(5)) { !tcpNone.isOpen && !tcpStranger.isOpen }
        }
    }

    @Test func tcpQueriesAndTruncatedAnswers() async throws {
        try await Self.withResolver(.open) { port, stub, _, _ in
            let tcp = try await DNSProbe.tcp(to: port)
            let udp = try await DNSProbe.udp()
            defer { Task { await tcp.close(); await udp.close() } }
            let small = try #require(await tcp.ask(DNSProbe.query("a.test"), port: port))
            #expect(small.answers.compactMap(\.address) == [[198, 51, 100, 7]])

            // big.test: truncated over UDP upstream, so the resolver asks over TCP; 40 records are
            // more than 512 bytes, so a client without EDNS is told to retry over TCP...
            let truncated = try #require(await udp.ask(DNSProbe.query("big.test"), port: port))
            #expect(truncated.isTruncated)
            #expect(truncated.answers.isEmpty)
            #expect(stub.log.contains("udp big.test") && stub.log.contains("tcp big.test"))
            // ...where it gets them all; and a client offering 4096 bytes gets them over UDP.
            let full = try #require(await tcp.ask(DNSProbe.query("big.test"), port: port))
            #expect(full.answers.count == 40)
            let edns = try #require(await udp.ask(DNSProbe.query("big.test", edns: 4096), port: port))
            #expect(!edns.isTruncated)
            #expect(edns.answers.count == 40)
        }
    }

    @Test func tcpConnectionsAreBoundedPerSourceAndClosedWhenIdle() async throws {
        // Idle after 15 s here: opening the eight connections one after another takes seconds
        // on a loaded machine, and none may close as idle before the ninth is refused.
        var limits = Self.testLimits
        limits.idleTimeout = .seconds(15)
        try await Self.withResolver(.open, limits: limits) { port, _, _, resolver in
            var probes: [DNSProbe] = []
            for _ in 0..<resolver.limits.connectionsPerSource {
                let probe = try await DNSProbe.tcp(to: port)
                probes.append(probe)
                // Answered: the connection was admitted (so counted) before the next opens.
                let answered = await probe.ask(DNSProbe.query("a.test"), port: port)
                #expect(answered != nil)
            }
            let extra = try await DNSProbe.tcp(to: port)
            try await waitUntil("the connection over the limit closed", timeout: .seconds(5)) { !extra.isOpen }
            let stillOpen = probes.filter(\.isOpen).count
            #expect(stillOpen == resolver.limits.connectionsPerSource)
            #expect(resolver.peakConnectionsOpen == resolver.limits.connectionsPerSource)
            // Idle past the timeout (15 s here), they all close; a new one is welcome again.
            try await waitUntil("idle connections closed", timeout: .seconds(60)) { probes.allSatisfy { !$0.isOpen } }
            #expect(resolver.connectionsOpen == 0)
            let again = try await DNSProbe.tcp(to: port)
            defer { Task { await again.close() } }
            #expect(await again.ask(DNSProbe.query("a.test"), port: port) != nil)
        }
    }

    @Test func anUnreachableUpstreamAnswersSERVFAIL() async throws {
        // A port where nothing listens: UDP is refused (ICMP), TCP is refused.
        try await Self.withResolver(.open, upstream: { _ in
            [DNSUpstream(address: AddressBlock(bytes: [127, 0, 0, 1], prefix: 32)!, port: 9)]
        }) { port, _, _, _ in
            let probe = try await DNSProbe.udp()
            defer { Task { await probe.close() } }
            let started = ContinuousClock.now
            let answer = try #require(await probe.ask(DNSProbe.query("a.test"), port: port))
            #expect(answer.responseCode == 2)
            // Refused at once (ICMP); well under the 2 s upstream timeout and its retry, even loaded.
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    @Test func garbageGetsNoAnswerOrFORMERRAndTheResolverGoesOn() async throws {
        try await Self.withResolver(.open) { port, stub, _, _ in
            let probe = try await DNSProbe.udp()
            defer { Task { await probe.close() } }
            var garbage: [[UInt8]] = (0..<2000).map { _ in
                (0..<Int.random(in: 0..<600)).map { _ in UInt8.random(in: 0...255) }
            }
            var loop = DNSMessageTests.header + [0xC0, 12, 0, 1, 0, 1]
            garbage.append(loop)
            loop = DNSMessageTests.header + [0xC0, 14, 0xC0, 12, 0, 1, 0, 1]
            garbage.append(loop)
            var huge = DNSProbe.query("a.test")
            huge[4] = 0xFF
            huge[5] = 0xFF
            garbage.append(huge)
            var replies = 0
            var nonFormErr = 0
            for (index, bytes) in garbage.enumerated() {
                probe.send(bytes, to: port)
                if index % 100 == 99 {
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            // What comes back is FORMERR, or (random bytes that happen to form a query) an answer
            // to a question the stub could not know (NXDOMAIN or a failure): never a crash.
            while let reply = await probe.receive(timeout: .seconds(2)) {
                replies += 1
                if let message = DNSMessage(parsing: reply), message.responseCode == 1 { continue }
                nonFormErr += 1
            }
            #expect(nonFormErr <= replies)
            let loopReply = try #require(await probe.ask(DNSMessageTests.header + [0xC0, 12, 0, 1, 0, 1], port: port))
            #expect(loopReply.responseCode == 1)
            let fine = try #require(await probe.ask(DNSProbe.query("a.test"), port: port))
            #expect(fine.answers.compactMap(\.address) == [[198, 51, 100, 7]])
            _ = stub
        }
    }

    @Test func aFloodIsBoundedAndOtherSandboxesAreStillAnswered() async throws {
        try await Self.withResolver(.open) { port, _, _, resolver in
            let flooder = try await DNSProbe.udp(from: "127.0.0.1")
            let neighbour = try await DNSProbe.udp(from: "127.0.0.3")
            defer { Task { await flooder.close(); await neighbour.close() } }
            let residentBefore = Self.residentBytes()
            // slow.test: the stub holds each answer 200 ms, so queries pile up in the resolver.
            for index in 0..<10_000 {
                let written = flooder.send(DNSProbe.query("slow.test"), to: port)
                if index % 100 == 99 { try await written.get() }
            }
            #expect(resolver.peakQueriesInFlight <= resolver.limits.queriesPerSandbox)
            // Another sandbox is still answered. Its first datagram may be lost while the flood
            // fills the socket's buffer, as on any network: like a stub resolver, it asks again.
            var answer: DNSMessage?
            for _ in 0..<3 where answer == nil {
                answer = await neighbour.ask(DNSProbe.query("a.test"), port: port, timeout: .seconds(1))
            }
            #expect(answer?.answers.count == 1)
            try await waitUntil("the flood drained", timeout: .seconds(20)) { resolver.queriesInFlight() == 0 }
            // The flooder's 64, and the neighbour's one.
            #expect(resolver.peakQueriesInFlight <= resolver.limits.queriesPerSandbox + 1)
            // Most of the flood was dropped, not queued: a few hundred answers at most.
            #expect(flooder.received < 2_000)
            let grown = Self.residentBytes() - residentBefore
            #expect(grown < 64 << 20, "resident memory grew \(grown >> 20) MiB")
            let after = try #require(await flooder.ask(DNSProbe.query("a.test"), port: port))
            #expect(after.answers.count == 1)
        }
    }

    /// This process's resident set (from /proc/self/statm).
    static func residentBytes() -> Int {
        let text = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        let pages = text.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
}
