/// The one error type of the `AgentLoop` module: a code a caller can branch on, a message a
/// person can act on (never a secret), and the underlying cause.
public struct AgentLoopError: Error, CustomStringConvertible, Sendable {
    /// What went wrong; a struct over a private enum so codes can grow without breaking callers.
    public struct Code: Equatable, Sendable, CustomStringConvertible {
        private enum Value: String { case notConfigured, unauthorized, rateLimited, providerUnavailable, badRequest, protocolViolation, transport, invalidArguments, toolFailed }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// No provider (or not this model) is configured.
        public static let notConfigured = Code(.notConfigured)
        /// The provider refused the key (401/403): retrying cannot help.
        public static let unauthorized = Code(.unauthorized)
        /// 429 from the provider.
        public static let rateLimited = Code(.rateLimited)
        /// 5xx from the provider.
        public static let providerUnavailable = Code(.providerUnavailable)
        /// Another 4xx from the provider: the request itself is wrong.
        public static let badRequest = Code(.badRequest)
        /// The provider's stream was not what its API promises (bad JSON, cut mid-message).
        public static let protocolViolation = Code(.protocolViolation)
        /// The connection failed or was cut.
        public static let transport = Code(.transport)
        /// A tool was called with arguments that do not fit its schema.
        public static let invalidArguments = Code(.invalidArguments)
        /// A tool ran and failed (a missing file, an ambiguous edit).
        public static let toolFailed = Code(.toolFailed)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String
    public let cause: (any Error)?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// Worth another attempt after a pause: rate limits, provider outages, cut connections.
    public var isRetryable: Bool {
        code == .rateLimited || code == .providerUnavailable || code == .transport || code == .protocolViolation
    }

    public var description: String { cause.map { "\(message) (cause: \($0))" } ?? message }
}
