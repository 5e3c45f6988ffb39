import Foundation
@testable import SandboxNetwork
import SandboxRuntime
import Testing

/// The packet filter against the real kernel, in a network of namespaces of its own
/// (`FilterTestNetwork`): what a sandbox reaches in each mode, DNS-learned addresses and their
/// expiry, the cut of established flows on a policy change, the new-connection rate, and that
/// removal leaves nothing behind. Each test checks first, where it matters, that without the
/// filter the sandbox does reach what the filter must refuse.
/// In HeavySuites: its namespaces, held connections and timed waits load the machine that the
/// light suites' timing checks run on.
extension HeavySuites {
@Suite(.serialized) struct NftablesFilterTests {
    static let publicAddresses = ["198.51.100.10", "203.0.113.10"]
    /// The private listener, H's own addresses (gateway, uplink) and the metadata address.
    static let refusedAlways = ["192.168.77.10", "10.201.0.5", "198.51.100.1", "169.254.169.254"]

    /// The name the tests' DNS answers are for (their allowlists list it).
    static let example = DNSName(text: "example.org")!

    static func block(_ text: String) -> AddressBlock {
        let parts = text.split(separator: "/")
        let bytes = parts[0].split(separator: ".").map { UInt8($0)! }
        return AddressBlock(bytes: bytes, prefix: parts.count > 1 ? Int(parts[1])! : 32)!
    }

    @Test func openReachesThePublicInternetOnlyAndDenyOutBlocksGo() async throws {
        let net = try FilterTestNetwork()
        defer { net.close() }
        let before = try net.reachable(Self.publicAddresses + Self.refusedAlways)
        #expect(before.values.allSatisfy { $0 }, "without the filter the sandbox reaches all: \(before)")

        try await net.onFilter { try $0.installBase(net.configuration); try $0.add(net.link, policy: .open) }
        let open = try net.reachable(Self.publicAddresses + Self.refusedAlways + ["127.0.0.1"])
        for address in Self.publicAddresses { #expect(open[address] == true, "\(address): \(open)") }
        for address in Self.refusedAlways + ["127.0.0.1"] { #expect(open[address] == false, "\(address): \(open)") }

        let denying = NetworkPolicy(mode: .open, denyOut: [.block(Self.block("203.0.113.0/24")), .domain("example.org")])
        try await net.onFilter { try $0.update(net.link, policy: denying) }
        let denied = try net.reachable(Self.publicAddresses)
        #expect(denied == ["198.51.100.10": true, "203.0.113.10": false])
    }

    /// From a sandbox link the host answers only the resolver's port 53, and only when the
    /// sandbox has a resolver; a source address that is not the link's sandbox's passes nothing.
    @Test func theHostAnswersOnlyTheResolverAndSpoofedSourcesPassNothing() async throws {
        let net = try FilterTestNetwork()
        defer { net.close() }
        let targets = ["10.201.0.1:53", "10.201.0.1:8080", "198.51.100.10"]
        let before = try net.reachable(targets) .merging(try net.reachable(["198.51.100.10"], source: "10.201.0.9").mapValues { $0 }) { $0 && $1 }
        #expect(before.values.allSatisfy { $0 }, "without the filter: \(before)")

        try await net.onFilter { try $0.installBase(net.configuration); try $0.add(net.link, policy: .open) }
        #expect(try net.reachable(targets) == ["10.201.0.1:53": true, "10.201.0.1:8080": false, "198.51.100.10": true])
        #expect(try net.reachable(["198.51.100.10", "10.201.0.1:53"], source: "10.201.0.9") == ["198.51.100.10": false, "10.201.0.1:53": false])

        try await net.onFilter { try $0.update(net.link, policy: .none) }
        #expect(try net.reachable(["10.201.0.1:53"]) == ["10.201.0.1:53": false], "no resolver in none mode")
    }

    @Test func allowPrivateOpensThatBlockButNeverTheHostOrTheRange() async throws {
        let net = try FilterTestNetwork(allowPrivate: [Self.block("192.168.77.0/24"), Self.block("10.201.0.0/16")])
        defer { net.close() }
        try await net.onFilter { try $0.installBase(net.configuration); try $0.add(net.link, policy: .open) }
        let reached = try net.reachable(["192.168.77.10", "10.201.0.5", "169.254.169.254", "198.51.100.10"])
        #expect(reached == ["192.168.77.10": true, "10.201.0.5": false, "169.254.169.254": false, "198.51.100.10": true])
    }

    @Test func allowlistReachesItsBlocksAndLearnedAddressesUntilTheirTTL() async throws {
        let net = try FilterTestNetwork()
        defer { net.close() }
        let policy = NetworkPolicy(mode: .allowlist, allowOut: [.block(Self.block("198.51.100.10")), .domain("example.org")])
        try await net.onFilter { try $0.installBase(net.configuration); try $0.add(net.link, policy: policy) }
        let listed = try net.reachable(["198.51.100.10", "198.51.100.20", "203.0.113.10"] + Self.refusedAlways)
        #expect(listed["198.51.100.10"] == true, "\(listed)")
        for address in ["198.51.100.20", "203.0.113.10"] + Self.refusedAlways { #expect(listed[address] == false, "\(address): \(listed)") }

        try await net.onFilter { try $0.allow(net.link, name: Self.example, addresses: [Self.block("198.51.100.20")], ttlSeconds: 3) }
        let learned = try net.reachable(["198.51.100.20", "203.0.113.10"])
        #expect(learned == ["198.51.100.20": true, "203.0.113.10": false])
        try await Task.sleep(for: .seconds(4))
        let expired = try net.reachable(["198.51.100.20", "198.51.100.10"])
        #expect(expired == ["198.51.100.20": false, "198.51.100.10": true])

        // A later answer with a longer TTL moves the timeout (an add alone would not).
        try await net.onFilter { try $0.allow(net.link, name: Self.example, addresses: [Self.block("198.51.100.20")], ttlSeconds: 2) }
        try await net.onFilter { try $0.allow(net.link, name: Self.example, addresses: [Self.block("198.51.100.20")], ttlSeconds: 60) }
        try await Task.sleep(for: .seconds(3))
        #expect(try net.reaches("198.51.100.20"), "the second answer's TTL holds")
    }

    /// An answer to a query admitted before a PUT dropped its name opens nothing: the filter
    /// judges the name again by the policy in force when the answer comes (the review's M2).
    @Test func anAnswerForANameAPolicyChangeDroppedOpensNothing() async throws {
        let net = try FilterTestNetwork()
        defer { net.close() }
        let before = NetworkPolicy(mode: .allowlist, allowOut: [.domain("example.org")])
        let after = NetworkPolicy(mode: .allowlist, allowOut: [.domain("other.example")])
        try await net.onFilter { try $0.installBase(net.configuration); try $0.add(net.link, policy: before) }
        try await net.onFilter { try $0.update(net.link, policy: after) }
        await #expect(throws: NetworkError.self) {
            try await net.onFilter { try $0.allow(net.link, name: Self.example, addresses: [Self.block("198.51.100.20")], ttlSeconds: 60) }
        }
        #expect(try !net.reaches("198.51.100.20"), "the dropped name's address is reachable after the PUT")
        // The name the policy lists now still learns.
        try await net.onFilter { try $0.allow(net.link, name: DNSName(text: "other.example")!, addresses: [Self.block("198.51.100.20")], ttlSeconds: 60) }
        #expect(try net.reaches("198.51.100.20"))
    }

    @Test func noneReachesNothing() async throws {
        let net = try FilterTestNetwork()
        defer { net.close() }
        try await net.onFilter { try $0.installBase(net.configuration); try $0.add(net.link, policy: .none) }
        let reached = try net.reachable(Self.publicAddresses + Self.refusedAlways)
        #expect(reached.values.allSatisfy { !$0 }, "\(reached)")
        let resolverLinks = try Nftables(namespace: net.hostNamespace).run("list set inet sandbox_host_\(net.key) dns_links")
        #expect(!resolverLinks.contains(net.link.hostInterface), "no resolver in none mode: \(resolverLinks)")
    }

    @Test func updateToNoneCutsAnEstablishedConnectionWithinFiveSeconds() async throws {
        let net = try FilterTestNetwork()
        defer { net.close() }
        try await net.onFilter { try $0.installBase(net.configuration); try $0.add(net.link, policy: .open) }
        let held = try net.startHeldConnection(to: "198.51.100.10")
        try await waitUntil("the held connection trades bytes", timeout: .seconds(10)) {
            FileManager.default.fileExists(atPath: held.marker.path)
        }
        try await Task.sleep(for: .milliseconds(500))
        #expect(held.process.isRunning, "the flow breaks only when the policy changes")

        try await net.onFilter { try $0.update(net.link, policy: .none) }
        let cut = ContinuousClock.now
        try await waitUntil("the held connection is cut", timeout: .seconds(5), every: .milliseconds(50)) { !held.process.isRunning }
        print("update to none: held connection cut after \(ContinuousClock.now - cut)")
    }

    @Test func aNewDenyOutCutsOnlyTheFlowsItRefuses() async throws {
        let net = try FilterTestNetwork()
        defer { net.close() }
        try await net.onFilter { try $0.installBase(net.configuration); try $0.add(net.link, policy: .open) }
        let refused = try net.startHeldConnection(to: "198.51.100.10")
        let kept = try net.startHeldConnection(to: "203.0.113.10")
        try await waitUntil("both held connections trade bytes", timeout: .seconds(10)) {
            FileManager.default.fileExists(atPath: refused.marker.path) && FileManager.default.fileExists(atPath: kept.marker.path)
        }
        let denying = NetworkPolicy(mode: .open, denyOut: [.block(Self.block("198.51.100.0/24"))])
        try await net.onFilter { try $0.update(net.link, policy: denying) }
        try await waitUntil("the refused flow is cut", timeout: .seconds(5), every: .milliseconds(50)) { !refused.process.isRunning }
        try await Task.sleep(for: .seconds(1))
        #expect(kept.process.isRunning, "a flow the new policy still allows goes on")
        // The refused flow's conntrack entry is gone (the far end's packets meet a reset), the
        // allowed one's stays.
        try await waitUntil("the flow cut settles", timeout: .seconds(5)) { net.filter.cutsSettled }
        #expect(try net.trackedFlows(to: "198.51.100.10") == 0)
        #expect(try net.trackedFlows(to: "203.0.113.10") == 1)
    }

    @Test func aBurstOfNewConnectionsBeyondTheRateIsDropped() async throws {
        let net = try FilterTestNetwork(newConnectionsPerSecond: 5)
        defer { net.close() }
        try await net.onFilter { try $0.installBase(net.configuration); try $0.add(net.link, policy: .open) }
        let attempts = try net.attempts(Array(repeating: "198.51.100.10", count: 40), timeout: 0.8)
        let through = attempts.filter { $0 }.count
        // A burst of 2 × 5 passes, then 5 a second: well under 40 in the ~1 s the burst lasts.
        #expect(through >= 5 && through <= 20, "\(through) of 40 went through")
        try await Task.sleep(for: .seconds(2))
        #expect(try net.reaches("198.51.100.10"), "the rate refills")
    }

    /// A sandbox holds at most `maxFlowsPerSandbox` tracked flows: one more is refused, and once
    /// some close new ones pass again (no sandbox fills the host's conntrack table).
    @Test func flowsBeyondThePerSandboxCapAreRefused() async throws {
        let net = try FilterTestNetwork(maxFlowsPerSandbox: 10)
        defer { net.close() }
        try await net.onFilter { try $0.installBase(net.configuration); try $0.add(net.link, policy: .open) }
        var held: [(process: Process, marker: URL)] = []
        for _ in 0..<10 { held.append(try net.startHeldConnection(to: "198.51.100.10")) }
        try await waitUntil("ten held connections trade bytes", timeout: .seconds(15)) {
            held.allSatisfy { FileManager.default.fileExists(atPath: $0.marker.path) }
        }
        #expect(try !net.reaches("198.51.100.10"), "the 11th flow is refused")
        #expect(try !net.reaches("203.0.113.10"), "to any destination")
        #expect(held.allSatisfy { $0.process.isRunning }, "the ten held flows go on")
        // A policy change (a PUT, as often as the API key likes) does not reset the count.
        let other = NetworkPolicy(mode: .open, denyOut: [.block(Self.block("192.0.2.0/24"))])
        try await net.onFilter { try $0.update(net.link, policy: other) }
        #expect(try !net.reaches("198.51.100.10"), "still refused after an update")

        for connection in held.prefix(3) {
            kill(connection.process.processIdentifier, SIGKILL)
            connection.process.waitUntilExit()
        }
        try await waitUntil("new flows pass once some closed", timeout: .seconds(5), every: .milliseconds(200)) {
            (try? net.reaches("198.51.100.10")) == true
        }
        #expect(try net.reachable(["198.51.100.10", "203.0.113.10"]) == ["198.51.100.10": true, "203.0.113.10": true])
    }

    /// A late `update` or `allow` for a slot's earlier attachment (read before its removal, run
    /// after the slot went to another sandbox) changes nothing.
    @Test func callsForAnEarlierAttachmentOfTheSlotChangeNothing() async throws {
        let net = try FilterTestNetwork()
        defer { net.close() }
        let (first, second) = (net.link(generation: 1), net.link(generation: 2))
        try await net.onFilter {
            try $0.installBase(net.configuration)
            try $0.add(first, policy: .open)
            try $0.remove(first)
            try $0.add(second, policy: .none)
            try $0.update(first, policy: .open)
            try $0.allow(first, name: Self.example, addresses: [Self.block("198.51.100.10")], ttlSeconds: 60)
        }
        let reached = try net.reachable(Self.publicAddresses + ["10.201.0.1:53"])
        #expect(reached.values.allSatisfy { !$0 }, "the slot's sandbox (none) reaches nothing: \(reached)")

        // After its removal, a late update does not bring the slot's chains back.
        try await net.onFilter { try $0.remove(second); try $0.update(second, policy: .open) }
        #expect(try !net.ruleset().contains("sb1_out"))
        #expect(try !net.reaches("198.51.100.10"))
    }

    /// A flow of the slot's earlier attachment does not pass once the slot is the next
    /// sandbox's, even when the removal's conntrack cut did not run.
    @Test func aReusedSlotDoesNotInheritItsPredecessorsFlows() async throws {
        let net = try FilterTestNetwork(conntrack: ConntrackCut(isEnabled: false))
        defer { net.close() }
        let (first, second) = (net.link(generation: 1), net.link(generation: 2))
        try await net.onFilter { try $0.installBase(net.configuration); try $0.add(first, policy: .open) }
        let held = try net.startHeldConnection(to: "198.51.100.10")
        try await waitUntil("the held connection trades bytes", timeout: .seconds(10)) {
            FileManager.default.fileExists(atPath: held.marker.path)
        }
        try await net.onFilter { try $0.remove(first); try $0.add(second, policy: .open) }
        #expect(try net.trackedFlows(to: "198.51.100.10") >= 1, "no cut ran: the entry is still there")
        try await waitUntil("the predecessor's flow stops passing", timeout: .seconds(5), every: .milliseconds(50)) {
            !held.process.isRunning
        }
        #expect(try net.reaches("198.51.100.10"), "the new sandbox's own flows pass")
    }

    /// Forwarding the host switched on for its uplinks serves the sandboxes only: the internet
    /// (I) does not reach the LAN behind the host (P) through it, while the sandbox's replies
    /// still come back.
    @Test func theHostDoesNotRouteBetweenTheUplinksItEnabled() async throws {
        let net = try FilterTestNetwork()
        defer { net.close() }
        #expect(try net.reachable(["192.168.77.10"], from: net.internet) == ["192.168.77.10": true], "without the filter H routes I to P")

        try await net.onFilter {
            try $0.installBase(net.configuration)
            try $0.add(net.link, policy: .open)
            try $0.forwardingEnabled(on: ["up0", "lan0"])
        }
        #expect(try net.reachable(["192.168.77.10"], from: net.internet) == ["192.168.77.10": false])
        #expect(try net.reaches("198.51.100.10"), "the sandbox's flows still pass")
    }

    /// The range's addresses on the host (resolver, gateways) answer sandbox links (and the host
    /// itself) only, not the uplinks; the Azure WireServer address is always denied.
    @Test func theRangeOnTheHostIsClosedToTheUplinksAndWireServerDenied() async throws {
        let net = try FilterTestNetwork()
        defer { net.close() }
        #expect(try net.reachable(["10.201.0.1:53", "10.201.0.5"], from: net.internet) == ["10.201.0.1:53": true, "10.201.0.5": true], "without the filter")
        #expect(try net.reaches("168.63.129.16"), "without the filter")

        try await net.onFilter { try $0.installBase(net.configuration); try $0.add(net.link, policy: .open) }
        #expect(try net.reachable(["10.201.0.1:53", "10.201.0.5"], from: net.internet) == ["10.201.0.1:53": false, "10.201.0.5": false])
        #expect(try net.reachable(["168.63.129.16", "198.51.100.10", "10.201.0.1:53"]) == ["168.63.129.16": false, "198.51.100.10": true, "10.201.0.1:53": true])

        let base = NftablesRuleset(configuration: net.configuration).base()
        let lines = base.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let chain = try #require(lines.firstIndex(of: "chain from_sandbox {"))
        #expect(lines[chain + 1] == "ct state invalid drop", "invalid packets go first")
    }

    @Test func removeLeavesNothingOfTheSandboxAndRemoveAllNoTable() async throws {
        let net = try FilterTestNetwork()
        defer { net.close() }
        let policy = NetworkPolicy(mode: .allowlist, allowOut: [.block(Self.block("198.51.100.10")), .domain("example.org")])
        try await net.onFilter {
            try $0.installBase(net.configuration)
            try $0.add(net.link, policy: policy)
            try $0.allow(net.link, name: Self.example, addresses: [Self.block("198.51.100.20")], ttlSeconds: 60)
        }
        let present = try net.ruleset()
        for name in ["sb1_out", "sb1_in", "sb1_blocks", "sb1_learned", net.link.hostInterface] {
            #expect(present.contains(name), "\(name) present after add")
        }
        let held = try net.startHeldConnection(to: "198.51.100.10")
        try await waitUntil("the held connection trades bytes", timeout: .seconds(10)) {
            FileManager.default.fileExists(atPath: held.marker.path)
        }
        #expect(try net.trackedFlows(to: "198.51.100.10") == 1)

        try await net.onFilter { try $0.remove(net.link) }
        let removed = try net.ruleset()
        for name in ["sb1_", net.link.hostInterface, "10.201.0.6"] {
            #expect(!removed.contains(name), "\(name) left after remove:\n\(removed)")
        }
        #expect(removed.contains("table inet sandbox_host_\(net.key)"))
        #expect(try !net.reaches("198.51.100.10"), "a link of this host that is not registered passes nothing")
        try await waitUntil("the removal's flow cut settles", timeout: .seconds(5)) { net.filter.cutsSettled }
        #expect(try net.trackedFlows(to: "198.51.100.10") == 0, "the removed sandbox's flows are gone")
        try await net.onFilter { try $0.remove(net.link) }

        // The slot again, at once: its predecessor's cut is done before add returns.
        try await net.onFilter { try $0.add(net.link, policy: .open); try $0.remove(net.link); try $0.add(net.link, policy: .open) }
        #expect(try net.reaches("198.51.100.10"))
        try await net.onFilter { try $0.remove(net.link) }

        try await net.onFilter { try $0.removeAll() }
        let gone = try Nftables(namespace: net.hostNamespace).run("list tables")
        #expect(!gone.contains("sandbox_host_"), "\(gone)")
        try await net.onFilter { try $0.removeAll() }
    }

    /// The rules' order is the security: the always-denied destinations before the sandbox's chain.
    @Test func theBaseChainRefusesBeforeTheSandboxChainDecides() throws {
        var configuration = NetworkConfiguration(range: Self.block("10.233.0.0/16"), instanceKey: "a1b2c3d4")
        configuration.allowPrivate = [Self.block("10.50.0.0/16")]
        let ruleset = NftablesRuleset(configuration: configuration)
        let base = ruleset.base()
        let order = ["iifname . ip saddr != @link_sources drop", "ip daddr 10.233.0.0/16 drop", "fib daddr type local drop",
                     "ip daddr @private_allowed iifname vmap @links_out", "ip daddr @denied drop", "iifname vmap @links_out"]
        let lines = base.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let positions = order.map { lines.firstIndex(of: $0) }
        #expect(positions.allSatisfy { $0 != nil }, "\(base)")
        #expect(positions.compactMap { $0 } == positions.compactMap { $0 }.sorted())
        #expect(base.contains("elements = { 10.50.0.0/16 }"))
        #expect(ruleset.table == "sandbox_host_a1b2c3d4")
        #expect(ruleset.resolverAddress == "10.233.0.1")
        #expect(base.contains("iifname \"sba1b2c3*\" drop"))

        let policy = NetworkPolicy(mode: .allowlist, allowOut: [
            .block(Self.block("198.51.100.0/24")), .domain("pypi.org"), .wildcard("npmjs.org"),
            .block(AddressBlock(bytes: [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 12), prefix: 32)!),
        ])
        #expect(NftablesRuleset.blocks(of: policy) == [Self.block("198.51.100.0/24")])
        #expect(NftablesRuleset.blocks(of: NetworkPolicy(mode: .open, allowOut: [.block(Self.block("1.2.3.4"))])) == [])
    }

    /// What `add`, `update`, `allow` and `remove` cost (printed: the report's table), with no
    /// other sandbox in the table and with 100 others (nft reads part of the table per call).
    @Test func filterCallCost() async throws {
        let net = try FilterTestNetwork()
        defer { net.close() }
        let policy = NetworkPolicy(mode: .allowlist, allowOut: [.block(Self.block("198.51.100.0/24")), .block(Self.block("203.0.113.7")), .domain("example.org")])
        let lines = try await net.onFilter { filter -> [String] in
            try filter.installBase(net.configuration)
            func link(_ slot: Int) -> SandboxLink {
                SandboxLink(slot: slot, hostInterface: "sb\(net.key)\(String(slot, radix: 16))",
                            address: [10, 201, UInt8(1 + slot / 64), UInt8(slot % 64 * 4 + 2)], gateway: [10, 201, UInt8(1 + slot / 64), UInt8(slot % 64 * 4 + 1)])
            }
            var lines: [String] = []
            for others in [0, 100] {
                for slot in 300..<(300 + others) {
                    try filter.add(link(slot), policy: .open)
                }
                var timings: [String: [Double]] = [:]
                func time(_ name: String, _ body: () throws -> Void) rethrows {
                    let start = MonotonicClock.seconds()
                    try body()
                    timings[name, default: []].append((MonotonicClock.seconds() - start) * 1_000)
                }
                for round in 0..<30 {
                    // Fresh slots: a slot removed a moment ago waits for its removal cut (~30 ms).
                    let probe = link(2 + round + others)
                    try time("1 add (open)") { try filter.add(probe, policy: .open) }
                    try time("2 update open→allowlist") { try filter.update(probe, policy: policy) }
                    try time("3 allow (1 new address)") { try filter.allow(probe, name: Self.example, addresses: [Self.block("198.51.100.99")], ttlSeconds: 30) }
                    try time("4 allow (timeout moved)") { try filter.allow(probe, name: Self.example, addresses: [Self.block("198.51.100.99")], ttlSeconds: 300) }
                    try time("5 update allowlist→open") { try filter.update(probe, policy: .open) }
                    try time("6 remove") { try filter.remove(probe) }
                }
                for (name, values) in timings.sorted(by: { $0.key < $1.key }) {
                    let sorted = values.sorted()
                    lines.append(String(format: "filter cost, %3d other sandboxes, %@: median %.2f ms, p90 %.2f ms (n=%d)",
                                        others, name, sorted[sorted.count / 2], sorted[sorted.count * 9 / 10], sorted.count))
                }
            }
            return lines
        }
        lines.forEach { print($0) }
    }

    /// The same transactions through `Nftables` alone (no conntrack, no filter state): what
    /// libnftables and the kernel cost, apart from the flow cuts running beside them.
    @Test func rulesetTransactionCost() async throws {
        let net = try FilterTestNetwork()
        defer { net.close() }
        let ruleset = NftablesRuleset(configuration: net.configuration)
        let nftables = Nftables(namespace: net.hostNamespace)
        let policy = NetworkPolicy(mode: .allowlist, allowOut: [.block(Self.block("198.51.100.0/24"))])
        let address = [Self.block("198.51.100.99")]
        let lines = try await DedicatedThread.run("nft-cost") { () -> [String] in
            try nftables.run(ruleset.base())
            var timings: [String: [Double]] = [:]
            func time(_ name: String, _ text: String) throws {
                let start = MonotonicClock.seconds()
                try nftables.run(text)
                timings[name, default: []].append((MonotonicClock.seconds() - start) * 1_000)
            }
            for _ in 0..<30 {
                try time("1 add (open)", ruleset.add(net.link, policy: .open))
                try time("2 update open→allowlist", ruleset.update(net.link, policy: policy, flushLearned: true))
                try time("3 allow (new)", ruleset.allow(net.link, adding: address, refreshing: [], ttlSeconds: 30))
                try time("4 allow (timeout moved)", ruleset.allow(net.link, adding: [], refreshing: address, ttlSeconds: 300))
                try time("5 update allowlist→open", ruleset.update(net.link, policy: .open, flushLearned: true))
                try time("6 remove", ruleset.remove(net.link))
            }
            return timings.sorted { $0.key < $1.key }.map { name, values in
                let sorted = values.sorted()
                return String(format: "nft transaction %@: median %.2f ms, p90 %.2f ms (n=%d)", name, sorted[sorted.count / 2], sorted[sorted.count * 9 / 10], sorted.count)
            }
        }
        lines.forEach { print($0) }
    }
}
}
