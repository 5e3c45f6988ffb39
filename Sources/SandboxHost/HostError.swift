import FileAPI
import SandboxRuntime

/// The one error type of the `SandboxHost` module.
///
/// A `code` says what kind of failure it is (and so which contract code and, mapped in the HTTP
/// layer by `HostError+HTTP`, which status a client sees), `message` is safe to show a client,
/// and `cause` keeps the underlying error for logs only. No HTTP types here.
public struct HostError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; a struct over a private enum so codes can grow.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case unauthorized, forbidden, notFound, validation, unprocessable, conflict
            case payloadTooLarge, rateLimited, sandboxUnavailable, gatewayTimeout, insufficientStorage, internalError
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        public static let unauthorized = Code(.unauthorized)
        public static let forbidden = Code(.forbidden)
        public static let notFound = Code(.notFound)
        /// A malformed request: 400 `VALIDATION_ERROR`.
        public static let validation = Code(.validation)
        /// A well-formed request whose fields are missing or of the wrong type: 422 `VALIDATION_ERROR`.
        public static let unprocessable = Code(.unprocessable)
        public static let conflict = Code(.conflict)
        public static let payloadTooLarge = Code(.payloadTooLarge)
        public static let rateLimited = Code(.rateLimited)
        public static let sandboxUnavailable = Code(.sandboxUnavailable)
        /// Something inside a sandbox (a preview's app) did not answer in time: 504, contract
        /// code `SANDBOX_UNAVAILABLE`.
        public static let gatewayTimeout = Code(.gatewayTimeout)
        public static let insufficientStorage = Code(.insufficientStorage)
        public static let internalError = Code(.internalError)

        /// The contract's `code` string in an error body.
        public var apiCode: String {
            switch value {
            case .unauthorized: "UNAUTHORIZED"
            case .forbidden: "FORBIDDEN"
            case .notFound: "NOT_FOUND"
            case .validation, .unprocessable: "VALIDATION_ERROR"
            case .conflict: "CONFLICT"
            case .payloadTooLarge: "PAYLOAD_TOO_LARGE"
            case .rateLimited: "RATE_LIMITED"
            case .sandboxUnavailable, .gatewayTimeout: "SANDBOX_UNAVAILABLE"
            case .insufficientStorage: "INSUFFICIENT_STORAGE"
            case .internalError: "INTERNAL_ERROR"
            }
        }

        public var description: String { apiCode }
    }

    public var code: Code
    /// Safe to show a client: no host paths, no secrets.
    public var message: String
    /// The underlying error, for logs only.
    public var cause: (any Error)?
    /// When the client may retry, in seconds (`Retry-After` on the response).
    public var retryAfterSeconds: Int?
    /// Whether the response challenges for a bearer key (`WWW-Authenticate: Bearer`).
    public var bearerChallenge: Bool

    public init(
        _ code: Code, _ message: String, cause: (any Error)? = nil, retryAfterSeconds: Int? = nil, bearerChallenge: Bool = false
    ) {
        self.code = code
        self.message = message
        self.cause = cause
        self.retryAfterSeconds = retryAfterSeconds
        self.bearerChallenge = bearerChallenge
    }

    public var description: String {
        if let cause { return "\(code): \(message) (cause: \(cause))" }
        return "\(code): \(message)"
    }

    /// A file operation's failure, with the status its kind calls for.
    init(_ error: FileAPIError) {
        let code: Code = switch error.kind {
        case .invalidPath, .invalidRequest: .validation
        case .notFound: .notFound
        case .conflict: .conflict
        case .tooLarge: .payloadTooLarge
        // The project's disk budget (its volume's ENOSPC, or the quota): the contract's 413.
        // 507 is for the host's own disk running low (`DataDisk.checkReserve`).
        case .quotaExceeded: .payloadTooLarge
        case .failure: .internalError
        }
        self.init(code, error.message, cause: error)
    }

    /// A runtime failure, with the same code (so the same status and message reach the client).
    init(_ error: RuntimeError) {
        let code: Code = switch error.code {
        case .notFound: .notFound
        case .badRequest: .validation
        case .unprocessable: .unprocessable
        case .conflict: .conflict
        case .payloadTooLarge: .payloadTooLarge
        case .sandboxUnavailable: .sandboxUnavailable
        case .gatewayTimeout: .gatewayTimeout
        default: .internalError
        }
        self.init(code, error.message, cause: error)
    }

    static func notFound(_ what: String) -> HostError { HostError(.notFound, "\(what) not found") }
    static func internalError(_ message: String, cause: (any Error)? = nil) -> HostError {
        HostError(.internalError, message, cause: cause)
    }
}
