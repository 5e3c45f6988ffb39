import AgentLoop
import NIOCore

/// A `text/event-stream` body as a client reads it, parsed by the product's own
/// `EventStreamParser` (the one the agent loop reads providers with), not by a parser of the
/// tests' own that could agree with a framing bug.
struct EventStreamReader {
    typealias Event = EventStreamParser.Event

    private var parser = EventStreamParser()

    /// The events `buffer` completes.
    mutating func feed(_ buffer: ByteBuffer) -> [Event] { parser.feed(buffer.readableBytesView) }

    /// The last event, when the stream ended without the blank line after it.
    mutating func finish() -> [Event] { parser.finish().map { [$0] } ?? [] }

    /// Every event of a whole body.
    static func events(_ text: String) -> [Event] {
        var parser = EventStreamParser()
        let events = parser.feed(text.utf8)
        return events + (parser.finish().map { [$0] } ?? [])
    }
}
