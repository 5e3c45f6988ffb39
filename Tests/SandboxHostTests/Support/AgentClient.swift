import AgentLoop
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// One parsed Server-Sent Event.
struct SSEEvent {
    let id: Int?
    let name: String
    let data: [String: Any]
    var type: String { data["type"] as? String ?? "" }
}

/// Agent-run calls over the router, for tests.
struct AgentClient {
    let client: any TestClientProtocol
    let key: String

    func post(_ uri: String, _ body: String) async throws -> (status: HTTPResponse.Status, json: [String: Any]) {
        try await client.execute(uri: uri, method: .post, headers: .bearer(key), body: ByteBuffer(string: body)) { ($0.status, $0.json) }
    }

    func get(_ uri: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        var all = HTTPFields.bearer(key)
        all.append(contentsOf: headers)
        return try await client.execute(uri: uri, method: .get, headers: all) { $0 }
    }

    /// A project and a thread in it.
    func makeThread(name: String = "agent") async throws -> (project: String, thread: String) {
        let project = try await createProject(client, key: key, name: name)
        let (status, json) = try await post("/api/threads", #"{"project_id":"\#(project)"}"#)
        try #require(status == .created)
        return (project, try #require(json["thread_id"] as? String))
    }

    func start(thread: String, message: String, extra: String = "") async throws -> String {
        let body = JSONValue.object(["message": .string(message)]).jsonText.dropLast() + extra + "}"
        let (status, json) = try await post("/api/thread/\(thread)/agent/start", String(body))
        try #require(status == .ok, "start: \(status) \(json)")
        #expect(json["status"] as? String == "running")
        return try #require(json["agent_run_id"] as? String)
    }

    func run(_ id: String) async throws -> [String: Any] { try await get("/api/agent-run/\(id)").json }

    /// Polls until the run is no longer running; answers its final record.
    func waitFinished(_ id: String, timeout: Duration = .seconds(60)) async throws -> [String: Any] {
        let clock = ContinuousClock(), deadline = clock.now + timeout
        while clock.now < deadline {
            let record = try await run(id)
            if record["status"] as? String != "running" { return record }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("run \(id) still running after \(timeout)")
        return try await run(id)
    }

    /// The run's stream, read to its end.
    func events(_ id: String, lastEventID: Int? = nil) async throws -> [SSEEvent] {
        var headers: HTTPFields = [:]
        if let lastEventID { headers[HTTPField.Name("Last-Event-ID")!] = String(lastEventID) }
        let response = try await get("/api/agent-run/\(id)/stream", headers: headers)
        #expect(response.status == .ok)
        #expect(response.headers[.contentType] == "text/event-stream")
        return Self.parse(response.text)
    }

    /// A stream's events whose data is a JSON object.
    static func parse(_ text: String) -> [SSEEvent] {
        EventStreamReader.events(text).compactMap { event in
            guard let object = try? JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any] else { return nil }
            return SSEEvent(id: event.id.flatMap { Int($0) }, name: event.name ?? "message", data: object)
        }
    }
}

