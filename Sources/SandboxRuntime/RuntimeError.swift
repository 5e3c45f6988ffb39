/// The one error type of the `SandboxRuntime` module.
///
/// `code` says what kind of failure it is (the host maps it to its own error and from there to
/// an HTTP status), `message` is safe to show a client (no host path, no secret), and `cause`
/// keeps the underlying error for logs only.
public struct RuntimeError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; a struct over a private enum so codes can grow.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case notFound, badRequest, unprocessable, conflict, payloadTooLarge, sandboxUnavailable, gatewayTimeout, internalError
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The sandbox, its project or something named in the request is not there (or is being deleted).
        public static let notFound = Code(.notFound)
        /// A malformed value in a request (a network policy's bad entry, unknown field or mode).
        public static let badRequest = Code(.badRequest)
        /// A well-formed request the runtime cannot act on (a bad image name, a missing working directory).
        public static let unprocessable = Code(.unprocessable)
        public static let conflict = Code(.conflict)
        /// A command and environment too large for the sandbox's control socket.
        public static let payloadTooLarge = Code(.payloadTooLarge)
        /// The sandbox is not running, stopped under the request, or cannot start.
        public static let sandboxUnavailable = Code(.sandboxUnavailable)
        /// Something inside a sandbox (a preview's app) did not answer in time.
        public static let gatewayTimeout = Code(.gatewayTimeout)
        public static let internalError = Code(.internalError)

        public var description: String { value.rawValue }
    }

    public var code: Code
    /// Safe to show a client: no host paths, no secrets.
    public var message: String
    /// The underlying error, for logs only.
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        if let cause { return "\(code): \(message) (cause: \(cause))" }
        return "\(code): \(message)"
    }

    static func notFound(_ what: String) -> RuntimeError { RuntimeError(.notFound, "\(what) not found") }
    static func internalError(_ message: String, cause: (any Error)? = nil) -> RuntimeError {
        RuntimeError(.internalError, message, cause: cause)
    }
}
