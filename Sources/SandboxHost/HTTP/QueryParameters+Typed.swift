/// Typed query values, read as FastAPI reads them: a value that is not of its type is a 422
/// naming the parameter, never silently taken as its default.
extension QueryParameters {
    /// `true`/`1`/`yes`/`on` or `false`/`0`/`no`/`off` (any case); absent: `default`.
    func flag(_ name: String, default defaultValue: Bool = false) throws -> Bool {
        guard let value = self[name] else { return defaultValue }
        switch value.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw HostError(.unprocessable, "query parameter '\(name)' must be true or false")
        }
    }

    /// A whole number from 0; absent: nil.
    func count(_ name: String) throws -> Int? {
        guard let value = self[name] else { return nil }
        guard let number = Int(value), number >= 0 else {
            throw HostError(.unprocessable, "query parameter '\(name)' must be a whole number from 0")
        }
        return number
    }
}
