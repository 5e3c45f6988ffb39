import Hummingbird
import SandboxRuntime

/// The SSE events of a dev-server stream: its output as numbered log lines, status changes
/// (each once), the preview and Expo URLs, and `done`; each method writes to the response it
/// is given.
///
/// Every event but the heartbeat has an `id:`, all from one sequence, so `Last-Event-ID` (or
/// `?after=`) resumes without a repeat or a gap: a log line is numbered by the session event
/// (chunk) that finished it, `sequence × 100,000 + its place among that chunk's lines`; an event
/// the stream derives (a status, `preview_url`, `expo_url`, `done`) takes a slot past the lines
/// of the last chunk read before it (`Derived`: 99,990 and up, in the order they can come). A
/// stream reads the session from its start every time, skipping what is at or before the resume
/// point: a status the client saw there is not sent again; one that comes later in the log is.
struct DevServerFeed {
    /// Events with an id up to this were seen by the client before (`Last-Event-ID`).
    let after: Int
    private var lines = LogLines()
    private var lastStatus: String?
    /// `done` was written: the stream is over.
    private(set) var finished = false
    /// The sequence of the last session event read; derived events are numbered after its lines.
    private var anchor = 0
    /// The lines numbered at `anchor` so far (the partial lines flushed at the end come after).
    private var linesAtAnchor = 0

    static let stride = 100_000
    /// Places a chunk's lines may take; the rest of the stride is `Derived`'s.
    static let lineSlots = 99_990

    /// What the stream says of its own, in the order it can say it after one chunk.
    enum Derived: Int {
        case checking, starting, running, previewURL, expoURL, stopped, error, done

        init?(status: String) {
            switch status {
            case "checking": self = .checking
            case "starting": self = .starting
            case "running": self = .running
            case "stopped": self = .stopped
            case "error": self = .error
            default: return nil
            }
        }
    }

    init(after: Int) { self.after = after }

    /// A log line's id: its chunk's sequence and its place among the chunk's lines.
    static func id(sequence: Int, line: Int) -> Int { sequence * stride + min(line, lineSlots - 1) }

    /// The id of `derived` said after the lines of chunk `sequence`.
    static func id(after sequence: Int, _ derived: Derived) -> Int { sequence * stride + lineSlots + derived.rawValue }

    /// Takes one session event in log order: a log chunk's finished lines are written (those
    /// after the resume point); any event moves the place derived events are numbered from.
    mutating func take(_ event: SessionEvent, to writer: inout any ResponseBodyWriter) async throws {
        if event.sequence > anchor {
            anchor = event.sequence
            linesAtAnchor = 0
        }
        guard event.type == .log else { return }
        let stream = event.stream ?? "stdout"
        for text in lines.feed(event.data ?? "", key: stream) {
            try await line(text, stream: stream, to: &writer)
        }
    }

    private mutating func line(_ line: String, stream: String, to writer: inout any ResponseBodyWriter) async throws {
        let id = Self.id(sequence: anchor, line: linesAtAnchor)
        linesAtAnchor += 1
        guard id > after else { return }
        try await writer.write(ServerSentEvents.event(id: id, payload: ["type": "log", "stream": stream, "data": line]))
    }

    /// The last partial lines, the final status and `done`.
    mutating func end(status: String, to writer: inout any ResponseBodyWriter) async throws {
        for (stream, text) in lines.flush() {
            try await line(text, stream: stream, to: &writer)
        }
        try await self.status(status, to: &writer)
        try await send(.done, ["type": "done"], to: &writer)
        finished = true
    }

    mutating func status(_ status: String, to writer: inout any ResponseBodyWriter) async throws {
        guard status != lastStatus, let derived = Derived(status: status) else { return }
        lastStatus = status
        try await send(derived, ["type": "status", "status": status], to: &writer)
    }

    /// A derived event, numbered after the last chunk read; not sent when the client saw it.
    func send(_ derived: Derived, _ payload: [String: Any], to writer: inout any ResponseBodyWriter) async throws {
        let id = Self.id(after: anchor, derived)
        guard id > after else { return }
        try await writer.write(ServerSentEvents.event(id: id, payload: payload))
    }

    /// How a dev server that exited with `code` ended: killed by a stop (137, 143) or clean is
    /// `stopped`, anything else `error`.
    static func endStatus(exitCode code: Int) -> String {
        code == 0 || code == 137 || code == 143 ? "stopped" : "error"
    }
}
