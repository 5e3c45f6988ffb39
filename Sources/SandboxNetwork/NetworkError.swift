/// The SandboxNetwork module's one error type: what failed, in words fit for the host's log (no
/// client sees it: a sandbox whose network cannot be prepared fails to start with a 503).
public struct NetworkError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }

    /// A kernel call answered -errno (or errno) at `stage`.
    static func system(_ stage: String, _ code: Int32) -> NetworkError {
        NetworkError("\(stage): \(String(cString: strerror(abs(code))))")
    }
}

#if canImport(Glibc)
import Glibc
#endif
