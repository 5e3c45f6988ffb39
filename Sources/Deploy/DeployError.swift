/// The one error type of the `Deploy` module: a message safe to show a client (no credentials:
/// every remote URL in it is redacted) and the cause for logs.
public struct DeployError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public let cause: (any Error)?
    /// Not the request's fault: the host is busy (too many lookups in flight); try again.
    public var isBusy = false

    public init(_ message: String, cause: (any Error)? = nil) {
        self.message = message
        self.cause = cause
    }

    public var description: String { cause.map { "\(message) (cause: \($0))" } ?? message }
}
