import Hummingbird
import SandboxRuntime

/// The SSE events of a dev-server stream: its output as numbered log lines, status changes
/// (each once), and the rest; each method writes to the response it is given.
struct DevServerFeed {
    /// Log lines with an id up to this were seen by the client before (`Last-Event-ID`).
    let after: Int
    private var lines = LogLines()
    private var lastStatus: String?
    /// `done` was written: the stream is over.
    private(set) var finished = false

    init(after: Int) { self.after = after }

    /// A log line's id: its chunk's sequence and its place in the chunk.
    static func id(sequence: Int, line: Int) -> Int { sequence * 100_000 + min(line, 99_999) }

    mutating func log(_ event: SessionEvent, to writer: inout any ResponseBodyWriter) async throws {
        let stream = event.stream ?? "stdout"
        for (index, line) in lines.feed(event.data ?? "", key: stream).enumerated() {
            let id = Self.id(sequence: event.sequence, line: index)
            guard id > after else { continue }
            try await writer.write(ServerSentEvents.event(id: id, payload: ["type": "log", "stream": stream, "data": line]))
        }
    }

    /// The last partial lines, the final status and `done`.
    mutating func end(status: String, to writer: inout any ResponseBodyWriter) async throws {
        for (stream, line) in lines.flush() {
            try await writer.write(ServerSentEvents.event(id: nil, payload: ["type": "log", "stream": stream, "data": line]))
        }
        try await self.status(status, to: &writer)
        try await send(["type": "done"], to: &writer)
        finished = true
    }

    mutating func status(_ status: String, to writer: inout any ResponseBodyWriter) async throws {
        guard status != lastStatus else { return }
        lastStatus = status
        try await send(["type": "status", "status": status], to: &writer)
    }

    func send(_ payload: [String: Any], to writer: inout any ResponseBodyWriter) async throws {
        try await writer.write(ServerSentEvents.event(id: nil, payload: payload))
    }

    /// How a dev server that exited with `code` ended: killed by a stop (137, 143) or clean is
    /// `stopped`, anything else `error`.
    static func endStatus(exitCode code: Int) -> String {
        code == 0 || code == 137 || code == 143 ? "stopped" : "error"
    }
}
