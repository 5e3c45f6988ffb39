import Foundation

/// One entry of a session's log as streamed (an SSE event); stored as a `SessionRecord`.
public struct SessionEvent: Sendable, Equatable {
    /// `truncated` is never stored: a reader that starts (or fell) before what the log keeps
    /// gets one, numbered with the last sequence it missed.
    public enum Kind: String, Sendable { case command, log, exit, truncated }

    public var sequence: Int
    public var type: Kind
    public var command_id: String
    /// `command` events: the command line.
    public var command: String?
    /// `log` events: `stdout` or `stderr`, and the text.
    public var stream: String?
    public var data: String?
    /// `exit` events.
    public var exit_code: Int?
    public var timestamp: Int64

    /// The SSE `data:` payload the contract describes (`log` and `exit` events).
    public func payload() -> [String: Any] {
        switch type {
        case .log: ["type": "log", "stream": stream ?? "stdout", "data": data ?? "", "command_id": command_id]
        case .exit: ["type": "exit", "command_id": command_id, "exit_code": exit_code as Any]
        case .command: ["type": "command", "command_id": command_id, "command": command ?? ""]
        case .truncated: ["type": "truncated"]
        }
    }
}
