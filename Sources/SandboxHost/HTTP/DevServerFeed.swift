import Hummingbird

/// The writing side of a dev-server stream: numbered log lines, status and other events.
struct DevServerFeed {
    var writer: any ResponseBodyWriter
    /// Log lines with an id up to this were seen by the client before (`Last-Event-ID`).
    let after: Int
    private var lines = LogLines()
    private var lastStatus: String?

    init(writer: any ResponseBodyWriter, after: Int) {
        self.writer = writer
        self.after = after
    }

    /// A log line's id: its chunk's sequence and its place in the chunk.
    static func id(sequence: Int, line: Int) -> Int { sequence * 100_000 + min(line, 99_999) }

    mutating func log(_ event: SessionEvent) async throws {
        let stream = event.stream ?? "stdout"
        for (index, line) in lines.feed(event.data ?? "", key: stream).enumerated() {
            let id = Self.id(sequence: event.sequence, line: index)
            guard id > after else { continue }
            try await writer.write(ServerSentEvents.event(id: id, payload: ["type": "log", "stream": stream, "data": line]))
        }
    }

    mutating func flush() async throws {
        for (stream, line) in lines.flush() {
            try await writer.write(ServerSentEvents.event(id: nil, payload: ["type": "log", "stream": stream, "data": line]))
        }
    }

    mutating func status(_ status: String) async throws {
        guard status != lastStatus else { return }
        lastStatus = status
        try await send(["type": "status", "status": status])
    }

    mutating func done() async throws { try await send(["type": "done"]) }

    mutating func send(_ payload: [String: Any]) async throws {
        try await writer.write(ServerSentEvents.event(id: nil, payload: payload))
    }
}
