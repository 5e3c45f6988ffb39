import Foundation
import Testing
@testable import SandboxHost
@testable import SandboxNetwork
@testable import SandboxRuntime

/// The policy object and its entries (API.md, "Network"): what parses, how it is normalised, what
/// is refused and with which status, and the names a domain or wildcard entry matches.
@Suite struct NetworkPolicyParsingTests {
    static func policy(_ json: String) throws -> NetworkPolicy {
        try JSONDecoder().decode(NetworkPolicy.self, from: Data(json.utf8))
    }

    /// The error a policy's JSON is refused with (nil when it parses).
    static func refusal(_ json: String) -> RuntimeError? {
        do {
            _ = try policy(json)
            return nil
        } catch {
            return error as? RuntimeError
        }
    }

    @Test(arguments: [
        ("203.0.113.7", "203.0.113.7"),
        ("203.0.113.0/24", "203.0.113.0/24"),
        ("203.0.113.9/24", "203.0.113.0/24"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("198.51.100.1/32", "198.51.100.1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("2001:db8:0:0:0:0:0:0/32", "2001:db8::/32"),
        ("::/0", "::/0"),
        ("PyPI.org", "pypi.org"),
        ("pypi.org.", "pypi.org"),
        ("files.pythonhosted.org", "files.pythonhosted.org"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("a-b.c0.io", "a-b.c0.io"),
        ("*.npmjs.org", "*.npmjs.org"),
        ("*.NPMJS.org", "*.npmjs.org"),
        ("*.test", "*.test"),
    ])
    func goodEntriesParseAndNormalise(entry: String, normalised: String) throws {
        #expect(try NetworkDestination.parse(entry).description == normalised)
        // What is stored and answered parses back to the same entry.
        #expect(try NetworkDestination.parse(normalised) == NetworkDestination.parse(entry))
    }

    @Test func entryKinds() throws {
        #expect(try NetworkDestination.parse("pypi.org") == .domain("pypi.org"))
        #expect(try NetworkDestination.parse("*.npmjs.org") == .wildcard("npmjs.org"))
        #expect(try NetworkDestination.parse("10.1.2.3") == .block(AddressBlock(bytes: [10, 1, 2, 3], prefix: 32)!))
    }

    @Test(arguments: [
        "", " ", "pypi.org ", " pypi.org", "localhost", "pypi", "-pypi.org", "pypi-.org", "py_pi.org", "pypi..org", ".pypi.org",
        "pypi.org..", "bücher.example", "a.b/c", "*", "*.", "*.*.org", "a.*.org", "*npmjs.org", "**.npmjs.org", "npmjs.*",
        "203.0.113.0/33", "203.0.113.0/", "203.0.113.0/-1", "203.0.113.0/+8", "203.0.113.0/08x", "203.0.113.0/24/8",
        "203.0.113", "203.0.113.256", "203.0.113.07", "1.2.3.4.5", "0x7f.0.0.1", "2001:db8::1/129", "2001:db8:::1",
        "fe80::1%eth0", "[2001:db8::1]", "2001:db8::1/", "http://pypi.org", "pypi.org:443", "1.2.3.4:80", "example.123",
        "*.1.2.3.4", "a\u{0}b.org",
        String(repeating: "a", count: 64) + ".org",
        (0..<64).map { _ in "abc" }.joined(separator: ".") + ".org",
        String(repeating: "a.", count: 128) + "org",
    ])
    func badEntriesAreRefusedNamingThem(entry: String) throws {
        let body = #"{"mode":"allowlist","allow_out":["#
            + String(decoding: try JSONEncoder().encode(entry), as: UTF8.self) + "]}"
        let error = try #require(Self.refusal(body), "accepted: \(entry.debugDescription)")
        #expect(error.code == .badRequest)
        #expect(error.message.hasPrefix("invalid network destination \""))
        #expect(HostError(error).code.status == .badRequest)
        #expect(!error.message.contains("\u{0}"))
    }

    /// Whether the resolver's matcher (label by label) takes `text` for `destination`.
    static func names(_ destination: NetworkDestination, _ text: String) -> Bool {
        DNSName(text: text)?.matches(destination) ?? false
    }

    static func verdict(_ policy: NetworkPolicy, _ text: String) throws -> DNSVerdict {
        DNSVerdict(policy: policy, name: try #require(DNSName(text: text)))
    }

    @Test func wildcardsMatchOneOrMoreLabelsInFrontOnly() throws {
        let wildcard = try NetworkDestination.parse("*.npmjs.org")
        #expect(Self.names(wildcard, "a.npmjs.org"))
        #expect(Self.names(wildcard, "a.b.npmjs.org"))
        #expect(Self.names(wildcard, "registry.NPMJS.org."))
        #expect(!Self.names(wildcard, "npmjs.org"))
        #expect(!Self.names(wildcard, "npmjs.org."))
        #expect(!Self.names(wildcard, "xnpmjs.org"))
        #expect(!Self.names(wildcard, ".npmjs.org"))
        #expect(!Self.names(wildcard, "npmjs.org.evil.com"))
        #expect(!Self.names(wildcard, "a.npmjs.org.evil"))
        #expect(!Self.names(wildcard, ""))
        // One label that holds a dot is not the two labels it spells.
        #expect(!(DNSName(labels: [Array("a.npmjs".utf8), Array("org".utf8)]).matches(wildcard)))

        let domain = try NetworkDestination.parse("pypi.org")
        #expect(Self.names(domain, "pypi.org"))
        #expect(Self.names(domain, "PyPI.org."))
        #expect(!Self.names(domain, "a.pypi.org"))
        #expect(!Self.names(domain, "xpypi.org"))
        #expect(!Self.names(domain, "pypi.org.evil.com"))
        #expect(!(DNSName(labels: [Array("pypi.org".utf8)]).matches(domain)))
        #expect(!Self.names(try NetworkDestination.parse("203.0.113.7"), "203.0.113.7"))
    }

    @Test func allowedNamesFollowTheMode() throws {
        let allowlist = try Self.policy(#"{"mode":"allowlist","allow_out":["*.npmjs.org","pypi.org"],"deny_out":["bad.npmjs.org"]}"#)
        #expect(try Self.verdict(allowlist, "registry.npmjs.org") == .forward(learn: true))
        #expect(try Self.verdict(allowlist, "pypi.org") == .forward(learn: true))
        #expect(try Self.verdict(allowlist, "bad.npmjs.org") == .nameError)
        #expect(try Self.verdict(allowlist, "example.com") == .nameError)
        let open = try Self.policy(#"{"mode":"open","deny_out":["*.evil.test"]}"#)
        #expect(try Self.verdict(open, "example.com") == .forward(learn: false))
        #expect(try Self.verdict(open, "x.evil.test") == .nameError)
        #expect(try Self.verdict(try Self.policy(#"{"mode":"none"}"#), "example.com") == .drop)
    }

    @Test func policiesRoundTripNormalised() throws {
        let policy = try Self.policy(#"{"mode":"allowlist","allow_out":["PyPI.org","*.NpmJS.org","203.0.113.9/24","pypi.org"],"deny_out":["2001:DB8::1"]}"#)
        #expect(policy.mode == .allowlist)
        #expect(policy.allowOut.map(\.description) == ["pypi.org", "*.npmjs.org", "203.0.113.0/24"])
        #expect(policy.denyOut.map(\.description) == ["2001:db8::1"])
        let encoded = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(policy)) as? [String: Any]
        #expect(encoded?["mode"] as? String == "allowlist")
        #expect(encoded?["allow_out"] as? [String] == ["pypi.org", "*.npmjs.org", "203.0.113.0/24"])
        #expect(encoded?["deny_out"] as? [String] == ["2001:db8::1"])
        #expect(try JSONDecoder().decode(NetworkPolicy.self, from: try JSONEncoder().encode(policy)) == policy)
        // Lists may be left out or null.
        #expect(try Self.policy(#"{"mode":"open"}"#) == .open)
        #expect(try Self.policy(#"{"mode":"none","allow_out":null,"deny_out":[]}"#) == .none)
    }

    @Test func malformedPoliciesAre400AndAllowOutOutsideAllowlistIs422() throws {
        for body in [
            #"{}"#, #"{"mode":null}"#, #"{"mode":"closed"}"#, #"{"mode":"OPEN"}"#, #"{"mode":"open","extra":1}"#,
            #"{"mode":"open","allowOut":[]}"#,
            #"{"mode":"allowlist","allow_out":[\#((0...256).map { "\"h\($0).example\"" }.joined(separator: ","))]}"#,
            #"{"mode":"open","deny_out":["a.org",""]}"#,
        ] {
            #expect(Self.refusal(body)?.code == .badRequest, "\(body.prefix(80))")
        }
        for body in [#"{"mode":"open","allow_out":["pypi.org"]}"#, #"{"mode":"none","allow_out":["203.0.113.7"]}"#] {
            let error = Self.refusal(body)
            #expect(error?.code == .unprocessable, "\(body)")
            #expect(error.map { HostError($0).code.status } == .unprocessableContent)
        }
        // 256 entries is the bound, not past it.
        let full = #"{"mode":"allowlist","allow_out":[\#((0..<256).map { "\"h\($0).example\"" }.joined(separator: ","))]}"#
        #expect(try Self.policy(full).allowOut.count == 256)
        // Wrong JSON types are the decoder's (422 at the HTTP layer).
        #expect(throws: DecodingError.self) { try Self.policy(#"{"mode":"open","deny_out":[1]}"#) }
        #expect(throws: DecodingError.self) { try Self.policy(#"{"mode":"open","deny_out":"pypi.org"}"#) }
    }

    @Test func networkConfigurationFromTheEnvironment() throws {
        var configuration = HostConfiguration()
        try configuration.readNetworkEnvironment([:])
        #expect(configuration.networkEnabled)
        #expect(configuration.defaultNetworkPolicy == .open)
        #expect(configuration.networkRange.description == "10.233.0.0/16")
        #expect(configuration.dnsUpstream.isEmpty && configuration.networkAllowPrivate.isEmpty)

        try configuration.readNetworkEnvironment([
            "SANDBOX_HOST_NETWORK": "off",
            "SANDBOX_HOST_NETWORK_DEFAULT": #"{"mode":"allowlist","allow_out":["PyPI.org"]}"#,
            "SANDBOX_HOST_NETWORK_RANGE": "10.201.4.0/22",
            "SANDBOX_HOST_NETWORK_ALLOW_PRIVATE": "192.168.1.0/24, 10.0.0.5",
            "SANDBOX_HOST_DNS_UPSTREAM": "192.0.2.53, 192.0.2.54:5353,2001:db8::53,[2001:db8::54]:5300",
        ])
        #expect(!configuration.networkEnabled)
        #expect(configuration.defaultNetworkPolicy == NetworkPolicy(mode: .allowlist, allowOut: [.domain("pypi.org")]))
        #expect(configuration.networkRange.description == "10.201.4.0/22")
        #expect(configuration.networkAllowPrivate.map(\.description) == ["192.168.1.0/24", "10.0.0.5"])
        #expect(configuration.dnsUpstream.map(\.description) == ["192.0.2.53:53", "192.0.2.54:5353", "[2001:db8::53]:53", "[2001:db8::54]:5300"])

        try configuration.readNetworkEnvironment(["SANDBOX_HOST_NETWORK": "on", "SANDBOX_HOST_NETWORK_DEFAULT": "none"])
        #expect(configuration.networkEnabled && configuration.defaultNetworkPolicy == .none)

        for (variable, value) in [
            ("SANDBOX_HOST_NETWORK", "maybe"),
            ("SANDBOX_HOST_NETWORK_DEFAULT", "closed"),
            ("SANDBOX_HOST_NETWORK_DEFAULT", #"{"mode":"open","allow_out":["pypi.org"]}"#),
            ("SANDBOX_HOST_NETWORK_DEFAULT", #"{"mode":"open""#),
            ("SANDBOX_HOST_NETWORK_RANGE", "10.233.0.0"),
            ("SANDBOX_HOST_NETWORK_RANGE", "10.233.0.0/25"),
            ("SANDBOX_HOST_NETWORK_RANGE", "10.0.0.0/7"),
            ("SANDBOX_HOST_NETWORK_RANGE", "203.0.113.0/24"),
            ("SANDBOX_HOST_NETWORK_RANGE", "fd00::/64"),
            ("SANDBOX_HOST_NETWORK_ALLOW_PRIVATE", "8.8.8.8"),
            ("SANDBOX_HOST_NETWORK_ALLOW_PRIVATE", "10.0.0.0/7"),
            ("SANDBOX_HOST_NETWORK_ALLOW_PRIVATE", "192.168.1.0/24,junk"),
            ("SANDBOX_HOST_DNS_UPSTREAM", "dns.example"),
            ("SANDBOX_HOST_DNS_UPSTREAM", "192.0.2.53:0"),
            ("SANDBOX_HOST_DNS_UPSTREAM", "192.0.2.53:70000"),
            ("SANDBOX_HOST_DNS_UPSTREAM", "[2001:db8::53]:"),
            ("SANDBOX_HOST_DNS_UPSTREAM", "192.0.2.0/24"),
        ] {
            var bad = HostConfiguration()
            do {
                try bad.readNetworkEnvironment([variable: value])
                Issue.record("\(variable)=\(value) accepted")
            } catch let error as HostError {
                #expect(error.message.contains(variable), "\(error.message)")
            }
        }
    }
}
