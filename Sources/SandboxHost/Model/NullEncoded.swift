/// An optional field that a JSON body writes as `null` instead of leaving out, as the contract's
/// shapes say (`"sandbox_id": null`, `"exit_code": null`). Synthesized `Encodable` skips nil
/// optionals; this lets a type keep the synthesized conformance instead of a hand-written one.
@propertyWrapper
public struct NullEncoded<Value: Encodable & Sendable & Equatable>: Encodable, Sendable, Equatable {
    public var wrappedValue: Value?

    public init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue { try container.encode(wrappedValue) } else { try container.encodeNil() }
    }
}
