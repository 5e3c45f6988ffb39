import Testing
@testable import SandboxHost

@Suite struct APIKeyTests {
    @Test func generatedKeyParsesBackToItsIDAndHash() throws {
        let key = APIKey.generate()
        #expect(key.secret.hasPrefix("sbx_"))
        let parsed = try #require(APIKey.parse(key.secret))
        #expect(parsed.id == key.id)
        #expect(parsed.hash == key.hash)
        #expect(key.hash.count == 32)
    }

    @Test func keysAreDistinctAndCarryAtLeast128RandomBits() {
        let keys = Set((0..<1000).map { _ in APIKey.generate().secret })
        #expect(keys.count == 1000)
        // 64 hex digits of secret = 256 bits, beside a 96-bit id.
        #expect(APIKey.secretHexLength * 4 >= 128)
    }

    @Test(arguments: [
        "", "sbx_", "Bearer x", "sbx_" + String(repeating: "g", count: 24) + "_" + String(repeating: "a", count: 64),
        "sbx_" + String(repeating: "a", count: 24) + "-" + String(repeating: "a", count: 64),
        "sbx_" + String(repeating: "A", count: 24) + "_" + String(repeating: "a", count: 64),
        "sbx_" + String(repeating: "a", count: 24) + "_" + String(repeating: "a", count: 63),
    ])
    func malformedKeysDoNotParse(_ presented: String) {
        #expect(APIKey.parse(presented) == nil)
    }

    @Test func constantTimeEqualComparesWholeHashes() {
        let a = APIKey.hash("one"), b = APIKey.hash("two")
        #expect(APIKey.constantTimeEqual(a, a))
        #expect(!APIKey.constantTimeEqual(a, b))
        #expect(!APIKey.constantTimeEqual(a, Array(a.dropLast())))
    }
}
