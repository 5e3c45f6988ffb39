import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
@testable import SandboxRuntime

extension HeavySuites {
    /// The network contract (API.md, "Network") end to end: a real host with networking on, a
    /// fake internet as its upstream, and what commands inside its sandboxes can reach.
    @Suite(.enabled(if: runningAsRoot, "sandbox networking needs root, as in CI"), .serialized)
    struct NetworkPolicyEndToEndTests {
        /// Runs `body` with a fresh network host on the shared fake internet; removes the host after.
        static func withHost(
            extra: [String: String] = [:], relative: Bool = false, _ body: (NetworkTestHost, FakeInternet) async throws -> Void
        ) async throws {
            try await FakeInternet.use { internet in
                let host = try await NetworkTestHost.start(internet, extra: extra, relative: relative)
                do {
                    try await body(host, internet)
                    await host.remove()
                } catch {
                    Issue.record("host log:\n\(host.process.log.suffix(4000))")
                    await host.remove()
                    throw error
                }
            }
        }

        /// `make run` gives the host `./data`: a sandbox's namespace and resolv.conf files must
        /// still be found by sandbox-init, which opens them away from the host's working directory
        /// (they were relative, and every start failed at open-tree with "No such file").
        @Test func aHostWithARelativeDataDirectoryStartsNetworkedSandboxes() async throws {
            try await Self.withHost(relative: true) { host, _ in
                #expect(!host.dataDir.hasPrefix("/"))
                let (_, sandbox) = try await host.process.createSandbox(key: host.key)
                let resolv = try await host.exec(sandbox, "cat /etc/resolv.conf; ip -4 -o addr show eth0")
                #expect(resolv.stdout.contains("nameserver ") && resolv.stdout.contains("eth0"), "\(resolv.stdout)")
            }
        }

        @Test func openReachesTheFakeInternetByNameAndByAddress() async throws {
            try await Self.withHost { host, internet in
                let (_, sandbox) = try await host.createSandbox()
                #expect(try await host.policy(sandbox)["mode"] as? String == "open")
                let facts = try await host.facts(sandbox)
                #expect(facts.address != nil && facts.gateway != nil && facts.nameserver != nil, "\(facts)")
                let results = try await host.probe(sandbox, [
                    NetworkProbe.resolve("allowed.example.test"),
                    NetworkProbe.get("http://allowed.example.test/"),
                    NetworkProbe.get("http://b.c.wild.example.test/"),
                    NetworkProbe.get("http://203.0.113.12/"),
                    NetworkProbe.resolve("unknown.example.test"),
                ])
                #expect(results[0].ok && results[0].value as? [String] == ["198.51.100.10"], "\(results[0])")
                #expect(results[1].text == "hello from 198.51.100.10\n", "\(results[1])")
                #expect(results[2].text == "hello from 203.0.113.10\n", "\(results[2])")
                #expect(results[3].text == "hello from 203.0.113.12\n", "\(results[3])")
                #expect(results[4].isNXDOMAIN, "the upstream's NXDOMAIN passes through: \(results[4])")
            }
        }

        @Test func noneReachesNothingAndResolvesNothing() async throws {
            try await Self.withHost { host, internet in
                let (_, sandbox) = try await host.createSandbox(network: ["mode": "none"])
                #expect(try await host.policy(sandbox)["mode"] as? String == "none")
                let facts = try await host.facts(sandbox)
                #expect(facts.nameserver == nil, "no resolver in none mode: \(facts)")
                let results = try await host.probe(sandbox, [
                    NetworkProbe.resolve("allowed.example.test"),
                    NetworkProbe.get("http://198.51.100.10/"),
                    NetworkProbe.connect(internet.upstream, 53),
                    NetworkProbe.get("http://203.0.113.12/"),
                ])
                for result in results { #expect(!result.ok, "\(result)") }
                // The sandbox's own loopback still works.
                let loopback = try await host.exec(sandbox, "python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); s.listen(); c=socket.create_connection(s.getsockname()); print(\"ok\")'")
                #expect(loopback.stdout == "ok\n")
            }
        }

        @Test func allowlistReachesListedNamesWildcardNamesAndBlocksOnly() async throws {
            try await Self.withHost { host, internet in
                let policy: [String: Any] = ["mode": "allowlist", "allow_out": ["allowed.example.test", "*.wild.example.test", "198.51.100.12/32"]]
                let (_, sandbox) = try await host.createSandbox(network: policy)
                #expect(try await host.policy(sandbox)["mode"] as? String == "allowlist")
                // Before any name resolved: the allowed names' addresses are not open yet, unlisted ones never.
                let direct = try await host.probe(sandbox, [
                    NetworkProbe.get("http://198.51.100.10/"),
                    NetworkProbe.get("http://198.51.100.11/"),
                    NetworkProbe.get("http://203.0.113.12/"),
                    NetworkProbe.get("http://198.51.100.12/"),
                ])
                #expect(!direct[0].ok && !direct[1].ok && !direct[2].ok, "\(direct)")
                #expect(direct[3].text == "hello from 198.51.100.12\n", "a listed CIDR: \(direct[3])")

                let named = try await host.probe(sandbox, [
                    NetworkProbe.get("http://allowed.example.test/"),
                    NetworkProbe.get("http://a.wild.example.test/"),
                    NetworkProbe.get("http://b.c.wild.example.test/"),
                    NetworkProbe.resolve("wild.example.test"),
                    NetworkProbe.resolve("denied.example.test"),
                    NetworkProbe.resolve("other.example.test"),
                    NetworkProbe.resolve("unknown.example.test"),
                ])
                #expect(named[0].text == "hello from 198.51.100.10\n", "\(named[0])")
                #expect(named[1].text == "hello from 198.51.100.11\n", "one label before the wildcard: \(named[1])")
                #expect(named[2].text == "hello from 203.0.113.10\n", "two labels before the wildcard: \(named[2])")
                #expect(named[3].isNXDOMAIN, "the wildcard's own suffix is not listed: \(named[3])")
                #expect(named[4].isNXDOMAIN, "\(named[4])")
                #expect(named[5].isNXDOMAIN, "a name is not allowed because its address is: \(named[5])")
                #expect(named[6].isNXDOMAIN, "\(named[6])")
                // Addresses of names never allowed stay closed.
                let after = try await host.probe(sandbox, [NetworkProbe.get("http://203.0.113.11/"), NetworkProbe.get("http://203.0.113.12/")])
                #expect(!after[0].ok && !after[1].ok, "\(after)")
            }
        }

        @Test func denyOutWorksInOpenMode() async throws {
            try await Self.withHost { host, internet in
                let policy: [String: Any] = ["mode": "open", "deny_out": ["198.51.100.12", "203.0.113.0/30", "denied.example.test"]]
                let (_, sandbox) = try await host.createSandbox(network: policy)
                let results = try await host.probe(sandbox, [
                    NetworkProbe.get("http://198.51.100.12/"),
                    NetworkProbe.get("http://denied.example.test/"),
                    NetworkProbe.get("http://allowed.example.test/"),
                    NetworkProbe.get("http://203.0.113.10/"),
                    NetworkProbe.get("http://203.0.113.1/"),
                ])
                #expect(!results[0].ok, "a denied address: \(results[0])")
                #expect(!results[1].ok, "a denied name: \(results[1])")
                #expect(results[2].text == "hello from 198.51.100.10\n", "\(results[2])")
                #expect(results[3].text == "hello from 203.0.113.10\n", "outside the denied /30: \(results[3])")
                #expect(!results[4].ok, "\(results[4])")
            }
        }

        @Test func alwaysDeniedDestinationsInEveryMode() async throws {
            try await Self.withHost { host, internet in
                let primary = try NetworkTestHost.primaryAddress()
                // A second sandbox, listening on every address, which no other sandbox may reach.
                let (_, neighbour) = try await host.createSandbox("neighbour")
                _ = try await host.exec(neighbour, "nohup python3 -m http.server 8080 --bind 0.0.0.0 >/dev/null 2>&1 & sleep 0.5; true")
                let neighbourAddress = try #require(try await host.facts(neighbour).address)
                let own = try await host.probe(neighbour, [NetworkProbe.get("http://\(neighbourAddress):8080/")])
                #expect(own[0].ok, "the neighbour's server answers inside it: \(own[0])")

                let policies: [[String: Any]] = [
                    ["mode": "open"],
                    ["mode": "allowlist", "allow_out": ["198.51.100.0/24", "203.0.113.0/24"]],
                    ["mode": "none"],
                ]
                for policy in policies {
                    let mode = policy["mode"] as? String ?? ""
                    let (_, sandbox) = try await host.createSandbox("attacker-\(mode)", network: policy)
                    let facts = try await host.facts(sandbox)
                    let gateway = facts.gateway ?? "", resolver = facts.nameserver ?? ""
                    let description = internet.description
                    var targets: [(String, Int)] = [
                        ("127.0.0.1", description.loopback_canary_port),
                        ("169.254.169.254", 80),
                        (description.link_local_canary, 80),
                        (description.private_canary, 80),
                        (neighbourAddress, 8080),
                    ]
                    for address in [gateway, resolver, primary ?? ""] + description.host_addresses where !address.isEmpty {
                        targets += [(address, host.port), (address, description.host_canary_port), (address, description.loopback_canary_port)]
                    }
                    var probes = targets.map { NetworkProbe.connect($0.0, $0.1) }
                    if mode == "open" { probes.append(NetworkProbe.get("http://198.51.100.10/")) }
                    var results = try await host.probe(sandbox, probes)
                    for (target, result) in zip(targets, results) {
                        #expect(!result.ok, "\(mode): \(target.0):\(target.1) reached: \(result)")
                    }
                    if mode == "allowlist" {
                        // Listing them opens none of them: refused (4xx), or accepted and still closed.
                        let opened = ["127.0.0.0/8", "169.254.0.0/16", "192.168.0.0/16", "10.0.0.0/8"] + targets.map(\.0)
                        let answer = try await host.call(.PUT, "/api/sandboxes/\(sandbox)/network", ["mode": "allowlist", "allow_out": opened])
                        #expect(answer.status == 200 || (400..<500).contains(answer.status), "\(answer.status) \(answer.text)")
                        try await Task.sleep(for: .seconds(1))
                        results = try await host.probe(sandbox, probes)
                        for (target, result) in zip(targets, results) {
                            #expect(!result.ok, "allowlist listing it: \(target.0):\(target.1) reached: \(result)")
                        }
                    }
                    if mode == "open" {
                        #expect(results.last?.text == "hello from 198.51.100.10\n", "the sandbox has a network at all: \(results.last.map(String.init(describing:)) ?? "")")
                    }
                    // Its own address is its own: it cannot take another (root inside has no CAP_NET_ADMIN over
                    // its namespace). In `none` mode it may have a namespace of its own, linked to nothing.
                    guard mode != "none" else { continue }
                    let change = try await host.exec(sandbox, "ip addr add \(neighbourAddress)/32 dev lo 2>&1; echo $?; ip route replace default dev lo 2>&1; echo $?")
                    let codes = change.stdout.split(separator: "\n").filter { Int($0) != nil }
                    #expect(codes.count == 2 && !codes.contains("0"), "\(mode): root inside changed its network: \(change.stdout)")
                }
            }
        }

        @Test func putTakesEffectWithinASecondAndSurvivesStopStartAndRestart() async throws {
            try await Self.withHost(extra: ["SANDBOX_HOST_IDLE_TIMEOUT": "4"]) { first, internet in
                let (_, sandbox) = try await first.createSandbox()
                let before = try await first.probe(sandbox, [NetworkProbe.get("http://198.51.100.10/"), NetworkProbe.get("http://198.51.100.11/")])
                #expect(before[0].ok && before[1].ok, "\(before)")

                try await first.put(sandbox, ["mode": "open", "deny_out": ["198.51.100.10"]])
                try await Task.sleep(for: .seconds(1))
                let denied = try await first.probe(sandbox, [NetworkProbe.get("http://198.51.100.10/"), NetworkProbe.get("http://198.51.100.11/")])
                #expect(!denied[0].ok && denied[1].ok, "a second after PUT: \(denied)")

                let allowlist: [String: Any] = ["mode": "allowlist", "allow_out": ["198.51.100.11"]]
                try await first.put(sandbox, allowlist)
                try await Task.sleep(for: .seconds(1))
                func checkAllowlist(_ host: NetworkTestHost, _ when: String) async throws {
                    let policy = try await host.policy(sandbox)
                    #expect(policy["mode"] as? String == "allowlist" && policy["allow_out"] as? [String] == ["198.51.100.11"], "\(when): \(policy)")
                    let results = try await host.probe(sandbox, [
                        NetworkProbe.get("http://198.51.100.11/"), NetworkProbe.get("http://198.51.100.10/"), NetworkProbe.get("http://203.0.113.12/"),
                    ])
                    #expect(results[0].ok && !results[1].ok && !results[2].ok, "\(when): \(results)")
                }
                try await checkAllowlist(first, "after PUT")

                // Stopped when idle, started again by the next request.
                try await waitUntil("the idle sandbox stopped", timeout: .seconds(60), every: .milliseconds(250)) {
                    try await first.call(.GET, "/api/sandboxes/\(sandbox)").json["state"] as? String == "stopped"
                }
                let project = try #require(try await first.call(.GET, "/api/sandboxes/\(sandbox)").json["project_id"] as? String)
                #expect(try await first.ensureActive(project) == sandbox)
                try await checkAllowlist(first, "after stop/start")

                let second = try await first.restart()
                #expect(try await second.ensureActive(project) == sandbox)
                try await checkAllowlist(second, "after a host restart")
                await second.remove()
            }
        }

        @Test func putCutsAnEstablishedConnectionWithinFiveSeconds() async throws {
            try await Self.withHost { host, internet in
                let (_, sandbox) = try await host.createSandbox()
                // A slow download (1 KiB every 100 ms) counting what it received into a file.
                let download = """
                    import socket, sys
                    s = socket.create_connection(("198.51.100.10", 80), 5)
                    s.sendall(b"GET /slow HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
                    s.settimeout(None)
                    total = 0
                    while True:
                        data = s.recv(65536)
                        if not data: break
                        total += len(data)
                        open("/workspace/slow.count", "w").write(str(total))
                    """
                try await host.upload(sandbox, "slow.py", download)
                _ = try await host.exec(sandbox, "nohup python3 /workspace/slow.py >/workspace/slow.log 2>&1 & true")
                func received() async throws -> Int { Int(try await host.exec(sandbox, "cat /workspace/slow.count 2>/dev/null || echo 0").stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 }
                try await waitUntil("the slow download started", timeout: .seconds(10), every: .milliseconds(200)) { try await received() > 0 }
                let early = try await received()
                try await Task.sleep(for: .seconds(1.5))
                let flowing = try await received()
                #expect(flowing > early, "the download flows before the PUT: \(early) then \(flowing)")

                try await host.put(sandbox, ["mode": "open", "deny_out": ["198.51.100.10/32"]])
                try await Task.sleep(for: .seconds(5))
                let cut = try await received()
                try await Task.sleep(for: .seconds(2))
                let later = try await received()
                #expect(later == cut, "bytes still arrive 5 s after the PUT: \(cut) then \(later)")
            }
        }

        @Test func twoHundredCreateDeleteCyclesLeaveNoKernelObjects() async throws {
            try await Self.withHost { host, internet in
                func cycle(_ index: Int) async throws {
                    let created = try await host.call(.POST, "/api/projects", ["name": "cycle-\(index)"])
                    let project = try #require(created.json["project_id"] as? String, "\(created.text)")
                    let sandbox = try await host.ensureActive(project)
                    // A connection out (a conntrack entry) and a name resolved (resolver state).
                    let (code, stdout) = try await host.exec(sandbox, "curl -s --noproxy '*' --max-time 5 http://allowed.example.test/")
                    #expect(code == 0 && stdout == "hello from 198.51.100.10\n", "cycle \(index): \(code) \(stdout)")
                    #expect(try await host.call(.DELETE, "/api/sandboxes/\(sandbox)").status == 200)
                    #expect(try await host.call(.DELETE, "/api/projects/\(project)").status == 200)
                }
                for index in 0..<5 { try await cycle(index) }
                // The pool of ready namespaces refills in the background: the baseline once it settles.
                var baseline = try host.kernelObjects()
                try await waitUntil("the pool settled", timeout: .seconds(20), every: .milliseconds(500)) {
                    let now = try host.kernelObjects()
                    defer { baseline = now }
                    return now == baseline
                }
                #expect(baseline.conntrack == 0, "\(baseline)")
                #expect(!baseline.table.isEmpty, "this host's nftables table exists: \(baseline)")
                for index in 5..<205 { try await cycle(index) }
                var last = try host.kernelObjects()
                do {
                    try await waitUntil("kernel objects back to the baseline", timeout: .seconds(20), every: .milliseconds(500)) {
                        last = try host.kernelObjects()
                        return last.interfaces.count == baseline.interfaces.count && last.namespaces.count == baseline.namespaces.count
                            && last.table == baseline.table && last.conntrack == 0
                    }
                } catch {
                    Issue.record("after 200 cycles: \(last); before: \(baseline)")
                }
                // A stopped host leaves nothing at all.
                try await host.process.stop()
                let gone = try host.kernelObjects()
                #expect(gone.interfaces.isEmpty && gone.namespaces.isEmpty && gone.table.isEmpty && gone.conntrack == 0, "after shutdown: \(gone)")
                #expect(try host.tableName() == nil)
            }
        }

        /// A port scan from a sandbox is the sandbox's problem: new connections past its rate (100/s,
        /// a burst of 200 by default) drop, and another sandbox's connections do not notice.
        @Test func newConnectionsAreRateLimitedPerSandbox() async throws {
            try await Self.withHost { host, internet in
                let (_, scanner) = try await host.createSandbox("scanner")
                let (_, bystander) = try await host.createSandbox("bystander")
                // 900 connects at once to a closed port: each one the filter lets through comes back
                // refused at once; a dropped one is still waiting 1.5 s later.
                let scan = """
                    import errno, select, socket, time
                    pending, answered = [], 0
                    for _ in range(900):
                        s = socket.socket(); s.setblocking(False)
                        code = s.connect_ex(("198.51.100.10", 9))
                        if code == errno.EINPROGRESS: pending.append(s)
                        elif code == errno.ECONNREFUSED: answered += 1
                    time.sleep(1.5)
                    _, writable, _ = select.select([], pending, [], 0)
                    print(answered + sum(1 for s in writable if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) in (errno.ECONNREFUSED, 0)))
                    """
                try await host.upload(scanner, "scan.py", scan)
                let (code, stdout) = try await host.exec(scanner, "python3 /workspace/scan.py")
                let answered = Int(stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
                #expect(code == 0 && answered > 0 && answered < 600, "connects that reached the fake internet: \(answered) of 900 (\(stdout))")
                let other = try await host.probe(bystander, [NetworkProbe.get("http://198.51.100.10/")])
                #expect(other[0].text == "hello from 198.51.100.10\n", "another sandbox right after the scan: \(other[0])")
            }
        }

        @Test func previewsWorkWithNetworkingOn() async throws {
            try await Self.withHost { host, internet in
                let (_, sandbox) = try await host.createSandbox()
                _ = try await host.exec(sandbox, "echo preview-page > /workspace/index.html")
                let started = try await host.call(.POST, "/api/sandboxes/\(sandbox)/dev-server/start",
                                                  ["command": "python3 -m http.server 8000", "port": 8000])
                #expect(started.status == 200, "\(started.text)")
                try await waitUntil("the dev server listens", timeout: .seconds(30), every: .milliseconds(200)) {
                    try await host.call(.GET, "/api/sandboxes/\(sandbox)/preview-url?port=8000").json["preview_url"] is String
                }
                let page = try await host.call(.GET, "/preview/\(sandbox)/8000/index.html")
                #expect(page.status == 200 && page.text == "preview-page\n", "\(page.status) \(page.text)")
            }
        }
    }
}
