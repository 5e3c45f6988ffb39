import Foundation

/// Which browser origins may call `/api/*` (`SANDBOX_HOST_CORS_ORIGINS`: comma-separated
/// origins such as `https://app.example.com,http://localhost:5173`, or `*` for any). Off (no
/// CORS headers at all, as before) when unset or empty, the default.
///
/// Origins compare as browsers send them: scheme, host and port, lowercased, no path; an entry
/// written with a trailing `/` still matches. `*` never goes with credentials.
public struct CORSPolicy: Sendable, Equatable {
    /// `*`: every origin, answered with `Access-Control-Allow-Origin: *`.
    public var anyOrigin = false
    /// The allowed origins, normalized.
    public var origins: Set<String> = []

    public init() {}

    /// `SANDBOX_HOST_CORS_ORIGINS`'s value: `*` anywhere in the list means any origin.
    public init(parsing value: String) {
        for entry in value.split(separator: ",") {
            let origin = Self.normalize(entry)
            if origin == "*" { anyOrigin = true } else if !origin.isEmpty { origins.insert(origin) }
        }
    }

    public var isEnabled: Bool { anyOrigin || !origins.isEmpty }

    /// Whether a request's `Origin` may read the answer.
    func allows(_ origin: String) -> Bool {
        anyOrigin || origins.contains(Self.normalize(origin[...]))
    }

    static func normalize(_ origin: Substring) -> String {
        var origin = origin.trimmingCharacters(in: .whitespaces).lowercased()
        while origin.hasSuffix("/") { origin.removeLast() }
        return origin
    }
}
