/// The one error type of the `FileAPI` module: a `Kind` the HTTP layer maps to a status, a
/// message safe to show a client (no host path), and the cause for logs.
public struct FileAPIError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The client's path is not acceptable (400).
        case invalidPath
        /// Nothing there (404).
        case notFound
        /// Anything else (500).
        case failure
    }

    public let kind: Kind
    public let message: String
    public let cause: (any Error)?

    public init(_ message: String, kind: Kind = .failure, cause: (any Error)? = nil) {
        self.kind = kind
        self.message = message
        self.cause = cause
    }

    static func invalidPath(_ message: String) -> FileAPIError { FileAPIError(message, kind: .invalidPath) }

    public var description: String { cause.map { "\(message) (cause: \($0))" } ?? message }
}
