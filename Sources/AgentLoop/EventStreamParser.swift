/// Splits a `text/event-stream` body into events as bytes arrive (the WHATWG rules: lines end in
/// LF, CR or CRLF; `data:` lines join with LF; a blank line dispatches; `:` lines are comments).
public struct EventStreamParser: Sendable {
    public struct Event: Equatable, Sendable {
        public var name: String?
        public var data: String
        /// The event's own `id:` field, if it had one (not carried over to the events after it,
        /// as a browser's last event ID is: a reader resuming a stream wants each event's own).
        public var id: String? = nil
    }

    private var line: [UInt8] = []
    private var name: String?
    private var id: String?
    private var data: [String] = []
    private var lastWasCR = false
    /// Bytes fed so far: a provider stream larger than this is refused as runaway.
    private(set) var total = 0

    public init() {}

    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [Event] {
        var events: [Event] = []
        for byte in bytes {
            total += 1
            if byte == 0x0A && lastWasCR { lastWasCR = false; continue }
            lastWasCR = byte == 0x0D
            if byte == 0x0A || byte == 0x0D {
                if let event = endLine() { events.append(event) }
            } else {
                line.append(byte)
            }
        }
        return events
    }

    /// The last event of a stream that ended without a blank line after it.
    public mutating func finish() -> Event? {
        if !line.isEmpty { _ = endLine() }
        return endLine()
    }

    private mutating func endLine() -> Event? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            defer { name = nil; id = nil; data = [] }
            return data.isEmpty ? nil : Event(name: name, data: data.joined(separator: "\n"), id: id)
        }
        let text = String(decoding: line, as: UTF8.self)
        if text.hasPrefix(":") { return nil }
        let field: Substring, value: Substring
        if let colon = text.firstIndex(of: ":") {
            field = text[..<colon]
            var rest = text[text.index(after: colon)...]
            if rest.first == " " { rest = rest.dropFirst() }
            value = rest
        } else {
            field = Substring(text)
            value = ""
        }
        switch field {
        case "data": data.append(String(value))
        case "event": name = String(value)
        case "id" where !value.contains("\0"): id = String(value)
        default: break
        }
        return nil
    }
}
