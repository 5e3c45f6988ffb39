/// The one error type of the `FileAPI` module (filled in by its issue; see ARCHITECTURE.md).
public struct FileAPIError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public let cause: (any Error)?

    public init(_ message: String, cause: (any Error)? = nil) {
        self.message = message
        self.cause = cause
    }

    public var description: String { cause.map { "\(message) (cause: \($0))" } ?? message }
}
