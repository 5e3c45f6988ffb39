import AsyncHTTPClient
import Foundation
import Testing
@testable import SandboxHost

extension HeavySuites {
    /// An agent run's stream against the real binary, while the run emits 200,000 events: the
    /// host keeps none of them in memory for its streams (they read them from the database),
    /// so readers that stall cost nothing per event, and a reader that resumes mid-run gets each
    /// event after its resume point once, then the final status.
    @Suite(.enabled(if: runningAsRoot, "sandboxes need root, as in CI"))
    struct AgentStreamMemoryTests {
        typealias Output = SessionOutputTests

        static let events = 200_000

        static func status(_ host: HostProcess, _ key: String, _ runID: String) async throws -> String {
            Output.json(try await host.request(.GET, "/api/agent-run/\(runID)", key: key).body)["status"] as? String ?? ""
        }

        /// Reads the stream from `lastEventID` until `enough` says stop (or it ends); answers the events.
        static func read(_ host: HostProcess, _ key: String, _ runID: String, lastEventID: Int? = nil, enough: ([SSEEvent]) -> Bool = { _ in false }) async throws -> [SSEEvent] {
            var request = HTTPClientRequest(url: host.baseURL + "/api/agent-run/\(runID)/stream")
            request.headers.add(name: "Authorization", value: "Bearer \(key)")
            if let lastEventID { request.headers.add(name: "Last-Event-ID", value: String(lastEventID)) }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(300))
            var text = ""
            var events: [SSEEvent] = []
            for try await chunk in response.body {
                text += String(buffer: chunk)
                guard let end = text.range(of: "\n\n", options: .backwards) else { continue }
                events += AgentClient.parse(String(text[..<end.upperBound]))
                text = String(text[end.upperBound...])
                if enough(events) { break }
            }
            return events
        }

        @Test func streamsReadSlowlyOrNotAtAllCostNoMemoryPerEventAndAResumeMidRunGetsEachEventOnce() async throws {
            let server = try await FakeModelServer.start(.openai, script: [.pieces(Array(repeating: "x", count: Self.events))])
            defer { server.stop() }
            let dataDir = try TemporaryDirectory.make()
            defer { try? FileManager.default.removeItem(atPath: dataDir) }
            let host = try await HostProcess(dataDir: dataDir, environment: server.environment)
            let key = try host.adminKey
            let pid = host.process.processIdentifier
            let (project, _) = try await host.createSandbox(key: key)
            let thread = try #require(Output.json(try await host.request(.POST, "/api/threads", key: key, body: #"{"project_id":"\#(project)"}"#).body)["thread_id"] as? String)
            try await Task.sleep(for: .milliseconds(500))
            let baseline = Output.kiB(pid, "VmRSS")
            let started = try await host.request(.POST, "/api/thread/\(thread)/agent/start", key: key, body: #"{"message":"go"}"#)
            let runID = try #require(Output.json(started.body)["agent_run_id"] as? String, "\(started.body)")
            let path = "/api/agent-run/\(runID)/stream"
            // Two readers that never read, one that reads 1 KB/s.
            let idle = try (0..<2).map { _ in try Output.idleReader(port: host.port, path: path, key: key) }
            let slowReader = try Output.idleReader(port: host.port, path: path, key: key)
            let slow = Task {
                try await SessionSlowReaderTests.slowRead(slowReader, bytesPerSecond: 1024, seconds: 600) { try Task.checkCancellation() }
            }

            // Mid-run: a reader takes the first thousand events, goes away, and resumes.
            let firstPart = try await Self.read(host, key, runID) { $0.count >= 1000 }
            let resumeAt = try #require(firstPart.last { $0.id != nil }?.id)
            #expect(try await Self.status(host, key, runID) == "running", "the run ended before the resume")
            let resumed = Task {
                try await Self.read(host, key, runID, lastEventID: resumeAt).map { (id: $0.id, type: $0.type, status: $0.data["status"] as? String) }
            }

            // The host's memory once the run is under way (the sandbox started, the first thousands
            // of events stored: the fixed costs), then its peak until the run ends.
            var peak = baseline
            var warm: Int?
            var finished = false
            for round in 0..<1200 {
                peak = max(peak, Output.kiB(pid, "VmRSS"))
                if round == 20 { warm = peak }
                if try await Self.status(host, key, runID) != "running" {
                    finished = true
                    break
                }
                try await Task.sleep(for: .milliseconds(250))
            }
            #expect(finished, "the run did not end within 5 minutes")
            peak = max(peak, Output.kiB(pid, "VmRSS"))
            let warmed = try #require(warm, "the run ended within 5 s: too short to tell")
            print("agent stream memory: RSS \(baseline >> 10) MiB before, \(warmed >> 10) MiB after 5 s, \(peak >> 10) MiB at most")
            #expect(peak - warmed < 16 << 10, "host RSS grew by \((peak - warmed) >> 10) MiB as the run went on, with stalled readers")
            #expect(peak - baseline < 48 << 10, "host RSS grew by \((peak - baseline) >> 10) MiB over \(Self.events) events with stalled readers")

            let rest = try await resumed.value.filter { $0.type != "ping" }
            #expect(rest.map(\.id) == Array((resumeAt + 1)...(Self.events + 2)).map(Optional.some), "each event after \(resumeAt) once, in order")
            #expect(rest.filter { $0.type == "content" }.count == Self.events - (resumeAt - 1))
            #expect(rest.last?.type == "status" && rest.last?.status == "completed")
            // Readers that never read hold their responses open: gone before the host stops.
            slow.cancel()
            _ = await slow.result
            (idle + [slowReader]).forEach { close($0) }
            try await host.stop()
        }
    }
}
