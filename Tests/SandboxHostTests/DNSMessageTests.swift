import SandboxRuntime
import Testing
@testable import SandboxNetwork

/// The resolver's parser against hostile bytes, and its name matching against the contract's
/// wildcard rules (API.md, "Network").
@Suite struct DNSMessageTests {
    static let header: [UInt8] = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]

    @Test func parsesAQueryAndAnAnswerWithCompression() throws {
        let query = DNSProbe.query("Www.Example.test", edns: 1232)
        let parsed = try #require(DNSMessage(parsing: query))
        #expect(parsed.question?.name == DNSName(text: "www.example.test"))
        #expect(parsed.question?.name.description == "Www.Example.test")
        #expect(parsed.ednsPayloadSize == 1232)
        #expect(!parsed.isResponse)

        let log = StubLog()
        let answer = try #require(StubDNSUpstream.answer(DNSProbe.query("cname.allowed.test"), overTCP: false, log: log))
        let message = try #require(DNSMessage(parsing: answer.bytes))
        #expect(message.isResponse)
        #expect(message.answers.map(\.type) == [DNSMessage.typeCNAME, DNSMessage.typeA])
        #expect(message.answers.compactMap(\.address) == [[203, 0, 113, 9]])
        #expect(message.answers.map(\.ttl) == [300, 120])
    }

    @Test func compressionLoopsAndForwardPointersAreRefused() {
        // The question's name is a pointer to itself.
        #expect(DNSMessage(parsing: Self.header + [0xC0, 12, 0, 1, 0, 1]) == nil)
        // Two pointers to each other.
        #expect(DNSMessage(parsing: Self.header + [0xC0, 14, 0xC0, 12, 0, 1, 0, 1]) == nil)
        // A pointer forward, to a name that a later record's data holds.
        var forward: [UInt8] = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]
        forward += [0xC0, 31, 0, 1, 0, 1]  // the question: a pointer to 31
        forward += [1, 0x62, 0, 0, 16, 0, 1, 0, 0, 0, 60, 0, 3, 1, 0x61, 0]  // `b` TXT, data `a` at 31
        #expect(DNSMessage(parsing: forward) == nil)
        // A pointer off the end.
        #expect(DNSMessage(parsing: Self.header + [0xC0, 0xFF, 0, 1, 0, 1]) == nil)
        // A name that is a chain of backward pointers (each one valid, the chain kept in a TXT
        // record's data): 16 jumps are followed, 17 are not.
        #expect(DNSMessage(parsing: Self.pointerChain(jumps: 16)) != nil)
        #expect(DNSMessage(parsing: Self.pointerChain(jumps: 17)) == nil)
    }

    /// A response whose second answer's name reaches `a` (at offset 12) through `jumps` pointers.
    static func pointerChain(jumps: Int) -> [UInt8] {
        let links = jumps - 1  // the second answer's own name is the first jump
        var bytes: [UInt8] = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0]
        bytes += [1, 0x61, 0, 0, 1, 0, 1]  // the question `a`, at 12
        bytes += [0xC0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, UInt8(2 * links)]  // a TXT record, data at 31
        for link in 0..<links {
            bytes += link == 0 ? [0xC0, 12] : [0xC0, UInt8(31 + 2 * (link - 1))]
        }
        bytes += [0xC0, UInt8(31 + 2 * (links - 1)), 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]
        return bytes
    }

    @Test func countsTheBytesCannotHoldAreRefused() {
        var huge = DNSProbe.query("a.test")
        huge[4] = 0xFF
        huge[5] = 0xFF
        #expect(DNSMessage(parsing: huge) == nil)
        var answers = DNSProbe.query("a.test")
        answers[6] = 0xFF
        #expect(DNSMessage(parsing: answers) == nil)
        #expect(DNSMessage(parsing: Array(DNSProbe.query("a.test").dropLast())) == nil)
        #expect(DNSMessage(parsing: DNSProbe.query("a.test") + [0]) == nil)
        #expect(DNSMessage(parsing: []) == nil)
        #expect(DNSMessage(parsing: [0x12]) == nil)
    }

    @Test func randomAndMutatedBytesNeverTrap() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let bytes = (0..<Int.random(in: 0..<300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = DNSMessage(parsing: bytes)
        }
        let log = StubLog()
        let valid = try #require(StubDNSUpstream.answer(DNSProbe.query("cname.allowed.test"), overTCP: false, log: log)).bytes
        for _ in 0..<5_000 {
            var bytes = valid
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            _ = DNSMessage(parsing: Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &generator))))
        }
    }

    @Test func domainsMatchExactlyAndWildcardsNeedALabelInFront() throws {
        let domain = NetworkDestination.domain("pypi.org")
        let wildcard = NetworkDestination.wildcard("npmjs.org")
        func name(_ text: String) throws -> DNSName { try #require(DNSName(text: text)) }
        #expect(try name("pypi.org").matches(domain))
        #expect(try name("PyPI.Org.").matches(domain))
        #expect(try !name("www.pypi.org").matches(domain))
        #expect(try !name("pypi.org.evil.test").matches(domain))
        #expect(try name("registry.npmjs.org").matches(wildcard))
        #expect(try name("a.b.NPMJS.org").matches(wildcard))
        #expect(try !name("npmjs.org").matches(wildcard))
        #expect(try !name("evilnpmjs.org").matches(wildcard))
        #expect(try !name("pypi.org").matches(.block(AddressBlock(bytes: [1, 2, 3, 4], prefix: 32)!)))
        // One label holding a dot is not the two labels it spells.
        #expect(!DNSName(labels: [Array("pypi.org".utf8)]).matches(domain))
        #expect(!DNSName(labels: [Array("x.npmjs".utf8), Array("org".utf8)]).matches(wildcard))
    }

    @Test func verdictsFollowTheMode() throws {
        let name = try #require(DNSName(text: "a.allowed.test"))
        #expect(DNSVerdict(policy: .none, name: name) == .drop)
        #expect(DNSVerdict(policy: .open, name: name) == .forward(learn: false))
        #expect(DNSVerdict(policy: NetworkPolicy(mode: .open, denyOut: [.wildcard("allowed.test")]), name: name) == .nameError)
        #expect(DNSVerdict(policy: NetworkPolicy(mode: .allowlist, allowOut: [.domain("a.allowed.test")]), name: name) == .forward(learn: true))
        #expect(DNSVerdict(policy: NetworkPolicy(mode: .allowlist, allowOut: [.domain("b.allowed.test")]), name: name) == .nameError)
        #expect(DNSVerdict(policy: NetworkPolicy(mode: .allowlist), name: name) == .nameError)
        let both = NetworkPolicy(mode: .allowlist, allowOut: [.wildcard("allowed.test")], denyOut: [.domain("a.allowed.test")])
        #expect(DNSVerdict(policy: both, name: name) == .nameError)
    }

    @Test func resolvConfNameserversInOrder() {
        let text = """
            # generated
            search example.test
            nameserver 127.0.0.53
            nameserver 2001:db8::53
            nameserver fe80::1%eth0
            nameserver not-an-address
            options edns0
            nameserver 192.0.2.1
            nameserver 192.0.2.2
            """
        #expect(DNSUpstream.parseResolvConf(text).map(\.address.description) == ["127.0.0.53", "2001:db8::53", "192.0.2.1"])
        #expect(DNSUpstream.parseResolvConf(text).allSatisfy { $0.port == 53 })
    }
}
