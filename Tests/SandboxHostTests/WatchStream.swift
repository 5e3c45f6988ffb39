import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

/// A client of `GET …/files/watch` against a `HostProcess`: reads the stream in a task of its
/// own, keeps every event, and lets the test wait for the ones it expects (with a deadline).
final class WatchStream: Sendable {
    struct Event: Sendable, CustomStringConvertible {
        let id: Int?
        let name: String?
        let data: String

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:] }
        var type: String { json["type"] as? String ?? "" }
        var path: String { json["path"] as? String ?? "" }
        var oldPath: String? { json["old_path"] as? String }
        var isDirectory: Bool? { json["is_dir"] as? Bool }
        var description: String { "\(id.map(String.init) ?? "-") \(data)" }
    }

    private let received = Locked<[Event]>([])
    private let ended = Locked(false)
    private let reader = Locked<Task<Void, Never>?>(nil)

    var events: [Event] { received.value }
    /// The changes (no pings).
    var changes: [Event] { events.filter { $0.name != "ping" } }
    var isEnded: Bool { ended.value }

    /// Opens the stream and waits for its first `ping` (the watch is in place from then on).
    /// Throws `Refused` with the status for a non-200 answer.
    static func open(_ host: HostProcess, sandbox: String, key: String, query: String = "", token: Bool = false) async throws -> WatchStream {
        var url = host.baseURL + "/api/sandboxes/\(sandbox)/files/watch?" + query
        if token { url += "&token=\(key)" }
        var request = HTTPClientRequest(url: url)
        if !token { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        guard response.status == .ok else {
            let body = try await response.body.collect(upTo: 1 << 20)
            throw Refused(status: Int(response.status.code), body: String(buffer: body))
        }
        #expect(response.headers.first(name: "Content-Type") == "text/event-stream")
        let stream = WatchStream()
        let (received, ended) = (stream.received, stream.ended)
        stream.reader.mutate {
            $0 = Task {
                var parser = EventStreamReader()
                do {
                    for try await chunk in response.body {
                        let events = parser.feed(chunk).map { Event(id: $0.id.flatMap(Int.init), name: $0.name, data: $0.data) }
                        received.mutate { $0 += events }
                    }
                } catch {}
                ended.mutate { $0 = true }
            }
        }
        try await stream.wait("the first ping") { $0.contains { $0.name == "ping" } }
        return stream
    }

    struct Refused: Error, CustomStringConvertible {
        let status: Int
        let body: String
        var description: String { "\(status) \(body)" }
    }

    /// Waits until `condition` holds for the events so far; past `timeout`, fails with them.
    func wait(_ what: String, timeout: Duration = .seconds(10), _ condition: @escaping ([Event]) -> Bool) async throws {
        do {
            try await waitUntil(what, timeout: timeout, every: .milliseconds(10)) { condition(self.events) }
        } catch {
            Issue.record("\(what) never came; the stream had: \(changes)")
            throw error
        }
    }

    /// Waits for a change of `type` at `path`.
    func waitFor(_ type: String, _ path: String, timeout: Duration = .seconds(10)) async throws {
        try await wait("\(type) \(path)", timeout: timeout) { $0.contains { $0.type == type && $0.path == path } }
    }

    /// Stops reading and drops the connection.
    func close() {
        reader.value?.cancel()
    }
}
