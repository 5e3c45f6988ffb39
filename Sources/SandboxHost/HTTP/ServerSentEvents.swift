import Foundation
import HTTPTypes
import Hummingbird

/// Server-Sent Events as the contract writes them: `id:` (the sequence), `event:`, one `data:`
/// line of JSON; heartbeats as `event: ping` with no id.
enum ServerSentEvents {
    static let headers: HTTPFields = [
        .contentType: "text/event-stream", .cacheControl: "no-cache", HTTPField.Name("X-Accel-Buffering")!: "no",
    ]

    static func event(id: Int?, name: String = "message", payload: [String: Any]) -> ByteBuffer {
        let data = (try? JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        var text = ""
        if let id { text += "id: \(id)\n" }
        text += "event: \(name)\ndata: " + String(decoding: data, as: UTF8.self) + "\n\n"
        return ByteBuffer(string: text)
    }

    /// An event whose JSON is already written (stored agent-run events).
    static func event(id: Int, name: String = "message", json: String) -> ByteBuffer {
        ByteBuffer(string: "id: \(id)\nevent: \(name)\ndata: \(json)\n\n")
    }

    /// Consecutive frames as one buffer: written as one body part, they cost one HTTP chunk and
    /// one pass through the connection's pipeline instead of one per event (a stream catching up
    /// after a burst). A single frame is answered as it is, shared, not copied.
    static func joined(_ frames: [ByteBuffer]) -> ByteBuffer {
        guard frames.count > 1 else { return frames.first ?? ByteBuffer() }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(frames.reduce(0) { $0 + $1.readableBytes })
        for frame in frames { buffer.writeImmutableBuffer(frame) }
        return buffer
    }

    static let ping = ByteBuffer(string: "event: ping\ndata: {\"type\":\"ping\"}\n\n")

    /// Where a reconnecting client resumes: `Last-Event-ID`, else `?after=`, else the start. An
    /// `after` that is not a whole number from 0 is a 422; a `Last-Event-ID` that is not a number is
    /// ignored (EventSource sends back whatever id it saw last).
    static func resumePoint(_ request: Request) throws -> Int {
        if let header = request.headers[HTTPField.Name("Last-Event-ID")!], let value = Int(header.trimmingCharacters(in: .whitespaces)) {
            return max(0, value)
        }
        return try request.queryParameters.count("after") ?? 0
    }
}
