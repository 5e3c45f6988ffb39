import Crypto

/// The API key format: `sbx_<id>_<secret>`, with a 96-bit id and a 256-bit secret, both hex.
///
/// The id lets the host find the stored hash without an index on secrets; the whole key is hashed
/// with SHA-256 and only the hash is stored.
public struct APIKey: Sendable {
    public static let prefix = "sbx_"
    static let idHexLength = 24
    static let secretHexLength = 64

    /// The id part, as shown by `keys list` and taken by `keys revoke`.
    public let id: String
    /// The whole key: shown once, never stored.
    public let secret: String
    /// SHA-256 of `secret`.
    public let hash: [UInt8]

    static func generate() -> APIKey {
        let id = Identifier.randomHex(bytes: idHexLength / 2)
        let secret = "\(prefix)\(id)_\(Identifier.randomHex(bytes: secretHexLength / 2))"
        return APIKey(id: id, secret: secret, hash: Self.hash(secret))
    }

    /// Splits a presented key into its id, or nil when it is not of our format at all.
    static func parse(_ presented: String) -> APIKey? {
        let utf8 = Array(presented.utf8)
        let expected = prefix.utf8.count + idHexLength + 1 + secretHexLength
        guard utf8.count == expected, presented.hasPrefix(prefix) else { return nil }
        let idStart = prefix.utf8.count
        let separator = idStart + idHexLength
        guard utf8[separator] == UInt8(ascii: "_") else { return nil }
        let isHex: (UInt8) -> Bool = { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
        guard utf8[idStart..<separator].allSatisfy(isHex), utf8[(separator + 1)...].allSatisfy(isHex) else {
            return nil
        }
        let id = String(decoding: utf8[idStart..<separator], as: UTF8.self)
        return APIKey(id: id, secret: presented, hash: hash(presented))
    }

    static func hash(_ key: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(key.utf8)))
    }

    /// Compares two hashes in time that does not depend on where they differ.
    static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }
}
