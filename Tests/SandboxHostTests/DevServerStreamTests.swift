import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
@testable import SandboxHost

/// The dev-server stream against the real binary, read as it arrives (as EventSource does):
/// every event has an id in one sequence, a resume after a status event repeats and skips
/// nothing, Metro on 8081 brings an `expo_url` event, and `preview-url` without a port answers
/// the running dev server's.
@Suite(.enabled(if: runningAsRoot, "sandboxes need root, as in CI"), .timeLimit(.minutes(1)))
struct DevServerStreamTests {
    /// A stream's text from the start until `stop` is satisfied by the events so far, or it ends;
    /// at most 30 s.
    static func read(
        _ host: HostProcess, _ path: String, key: String, lastEventID: Int? = nil, until stop: @escaping @Sendable ([SSEEvent]) -> Bool
    ) async throws -> String {
        var asked = HTTPClientRequest(url: host.baseURL + path)
        asked.headers.add(name: "Authorization", value: "Bearer \(key)")
        if let lastEventID { asked.headers.add(name: "Last-Event-ID", value: String(lastEventID)) }
        let request = asked
        let text = try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask {
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                var text = ""
                for try await buffer in response.body {
                    text += String(buffer: buffer)
                    if stop(AgentClient.parse(text)) { break }
                }
                return text
            }
            group.addTask {
                try await Task.sleep(for: .seconds(30))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let text else {
            Issue.record("\(path) did not bring what the test waits for within 30 s")
            return ""
        }
        return text
    }

    static func statuses(_ events: [SSEEvent]) -> [String] {
        events.filter { $0.type == "status" }.compactMap { $0.data["status"] as? String }
    }

    @Test("ids on every event; resume after the running status: no repeat, no gap; expo_url; preview-url without a port")
    func resumeAfterAStatusEvent() async throws {
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let host = try await HostProcess(dataDir: dataDir)
        defer { Task { try? await host.stop() } }
        let key = try host.adminKey
        let (_, sandbox) = try await host.createSandbox(key: key)
        let base = "/api/sandboxes/\(sandbox)"

        let nothing = try await host.request(.GET, "\(base)/preview-url", key: key)
        #expect(nothing.status == 409, "\(nothing.body)")
        #expect(nothing.body.contains("no dev server is running"), "\(nothing.body)")

        // A stand-in for Expo's Metro: two lines, then a server on 8081 that logs nothing more.
        let started = try await host.request(
            .POST, "\(base)/dev-server/start", key: key,
            body: #"{"command":"echo one; echo two; exec python3 -m http.server 8081 >/dev/null 2>&1"}"#)
        #expect(started.status == 200, "\(started.body)")

        let stream = "\(base)/dev-server/stream"
        let first = AgentClient.parse(try await Self.read(host, stream, key: key) { $0.contains { $0.type == "expo_url" } })
            .filter { $0.type != "ping" }
        #expect(first.allSatisfy { $0.id != nil }, "an event without an id: \(first.map(\.type))")
        let ids = first.compactMap(\.id)
        #expect(ids == ids.sorted() && Set(ids).count == ids.count, "\(ids)")
        #expect(first.filter { $0.type == "log" }.compactMap { $0.data["data"] as? String } == ["one", "two"])
        #expect(Self.statuses(first) == ["checking", "starting", "running"])
        let preview = try #require(first.first { $0.type == "preview_url" }, "\(first.map(\.type))")
        #expect(preview.data["port"] as? Int == 8081)
        let expo = try #require(first.first { $0.type == "expo_url" })
        let expoURL = try #require(expo.data["url"] as? String)
        #expect(expoURL.hasPrefix("exp://8081-\(sandbox).preview.localhost:\(host.port)"), "\(expoURL)")
        let running = try #require(first.first { $0.type == "status" && $0.data["status"] as? String == "running" })

        // Resuming right after `running`: what came after it, with the same ids, and nothing before.
        let resumed = AgentClient.parse(try await Self.read(host, stream, key: key, lastEventID: running.id) { $0.contains { $0.type == "expo_url" } })
            .filter { $0.type != "ping" }
        #expect(resumed.map(\.type) == ["preview_url", "expo_url"], "\(resumed.map(\.type)) \(resumed.map(\.data))")
        #expect(resumed.map(\.id) == [preview.id, expo.id])

        // Without a port, preview-url answers the dev server's.
        let found = try await host.request(.GET, "\(base)/preview-url", key: key)
        let answer = (try? JSONSerialization.jsonObject(with: Data(found.body.utf8))) as? [String: Any] ?? [:]
        #expect(found.status == 200, "\(found.body)")
        #expect(answer["port"] as? Int == 8081 && answer["status"] as? String == "available", "\(found.body)")
        #expect((answer["preview_url"] as? String)?.hasPrefix("http://8081-\(sandbox).preview.localhost:") == true, "\(found.body)")
        let expoRoute = try await host.request(.GET, "\(base)/expo-url", key: key)
        let expoAnswer = (try? JSONSerialization.jsonObject(with: Data(expoRoute.body.utf8))) as? [String: Any] ?? [:]
        #expect(expoAnswer["expo_url"] as? String == expoURL, "\(expoRoute.body)")

        // Stopped: a resume after the last event gets the end and nothing else.
        let stopped = try await host.request(.DELETE, "\(base)/sessions/dev_server_web", key: key)
        #expect(stopped.status == 200, "\(stopped.body)")
        let end = AgentClient.parse(try await Self.read(host, stream, key: key, lastEventID: expo.id) { $0.contains { $0.type == "done" } })
            .filter { $0.type != "ping" }
        #expect(end.map(\.type) == ["status", "done"], "\(end.map(\.type)) \(end.map(\.data))")
        #expect(Self.statuses(end) == ["stopped"])
        #expect(end.allSatisfy { ($0.id ?? 0) > (expo.id ?? .max) }, "\(end.map(\.id))")
    }
}
