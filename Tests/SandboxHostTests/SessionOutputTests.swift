import AsyncHTTPClient
import Foundation
import Testing
@testable import SandboxHost

extension HeavySuites {
    /// A session's output against the real binary: a flood stays within the cap on disk, is
    /// stored about once per byte, idle readers cost the host no memory, and a restarted host
    /// reopens a big log without reading it whole.
    @Suite(.enabled(if: runningAsRoot, "sandboxes need root, as in CI"))
    struct SessionOutputTests {
        static func sessionBytes(_ dataDir: String, _ sandbox: String) -> Int {
            let root = dataDir + "/sandboxes/\(sandbox)/sessions"
            let files = FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []
            return files.reduce(0) { total, name in
                let attributes = try? FileManager.default.attributesOfItem(atPath: root + "/" + name)
                return total + (attributes?[.type] as? FileAttributeType == .typeRegular ? (attributes?[.size] as? Int ?? 0) : 0)
            }
        }

        static func kiB(_ pid: Int32, _ field: String) -> Int {
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }

        static func json(_ text: String) -> [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
        }

        /// Whether the session still runs, from the list of sessions (whose size does not depend on the logs).
        static func running(_ host: HostProcess, _ key: String, _ sandbox: String, _ session: String) async throws -> Bool {
            let list = try await host.request(.GET, "/api/sandboxes/\(sandbox)/sessions", key: key)
            let sessions = json(list.body)["sessions"] as? [[String: Any]] ?? []
            return sessions.first { $0["session_name"] as? String == session }?["status"] as? String != "exited"
        }

        /// Waits until nothing in the session runs; answers its status body.
        static func waitExited(_ host: HostProcess, _ key: String, _ sandbox: String, _ session: String, seconds: Int = 120) async throws -> [String: Any] {
            for _ in 0..<(seconds * 5) {
                if try await !running(host, key, sandbox, session) { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            let status = try await host.requestBytes(.GET, "/api/sandboxes/\(sandbox)/sessions/\(session)/status", key: key, body: [])
            return json(status.body)
        }

        static func start(_ host: HostProcess, _ key: String, _ sandbox: String, _ command: String, session: String) async throws {
            let body = try JSONSerialization.data(withJSONObject: ["command": command, "blocking": false, "session_name": session])
            let started = try await host.request(.POST, "/api/sandboxes/\(sandbox)/execute", key: key, body: String(decoding: body, as: UTF8.self))
            try #require(started.status == 200, "\(started.body)")
        }

        /// The last `last` bytes of the first `count` bytes of `yes 0123456789abcdef`.
        static func yesOutput(_ count: Int, last: Int) -> String {
            let line = Array("0123456789abcdef\n".utf8)
            return String(decoding: ((count - last)..<count).map { line[$0 % line.count] }, as: UTF8.self)
        }

        /// A GET whose body is read to the end however long; answers its size, and the body when short.
        static func read(_ host: HostProcess, _ path: String, key: String) async throws -> (status: Int, bytes: Int, body: String) {
            var request = HTTPClientRequest(url: host.baseURL + path)
            request.headers.add(name: "Authorization", value: "Bearer \(key)")
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
            var bytes = 0
            var body = ""
            for try await chunk in response.body {
                bytes += chunk.readableBytes
                if bytes <= 1 << 20 { body += String(buffer: chunk) }
            }
            return (Int(response.status.code), bytes, bytes <= 1 << 20 ? body : "")
        }

        /// A client that sends the stream request and never reads the answer.
        static func idleReader(port: Int, path: String, key: String) throws -> Int32 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var small: Int32 = 4096
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            try #require(connected == 0)
            let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(key)\r\n\r\n"
            _ = request.withCString { send(fd, $0, strlen($0), 0) }
            return fd
        }

        @Test func aFloodKeepsTheCapOnDiskAndAReplayStartsWithTruncated() async throws {
            let dataDir = try TemporaryDirectory.make()
            defer { try? FileManager.default.removeItem(atPath: dataDir) }
            let host = try await HostProcess(dataDir: dataDir, environment: ["SANDBOX_HOST_SESSION_LOG_MB": "4"])
            let key = try host.adminKey
            let (_, sandbox) = try await host.createSandbox(key: key)
            try await Self.start(host, key, sandbox, "yes 0123456789abcdef | head -c 40000000", session: "flood")
            let status = try await Self.waitExited(host, key, sandbox, "flood")
            #expect(status["status"] as? String == "exited")
            let onDisk = Self.sessionBytes(dataDir, sandbox)
            #expect(onDisk <= (4 << 20) + (1 << 20) + 65_536, "\(onDisk) bytes on disk for a 4 MiB cap")
            let logs = (status["commands"] as? [[String: Any]])?.first?["logs"] as? String ?? ""
            #expect(logs.utf8.count <= 64 << 10 && logs.utf8.count > 60_000, "\(logs.utf8.count) bytes of logs in status")
            #expect(logs == Self.yesOutput(40_000_000, last: logs.utf8.count))

            let stream = try await host.requestBytes(.GET, "/api/sandboxes/\(sandbox)/sessions/flood/stream", key: key, body: [])
            let events = SessionTests.events(stream.body)
            #expect(events.first?.payload["type"] as? String == "truncated", "\(stream.body.prefix(300))")
            #expect(events.last?.payload["type"] as? String == "exit")
            let kept = events.compactMap { $0.payload["data"] as? String }.reduce(0) { $0 + $1.utf8.count }
            // Three full segments of a quarter of the cap, less the room a 64 KiB read can leave in each.
            #expect(kept >= 3 * ((1 << 20) - 65_600), "\(kept) bytes of output kept")
            // Bytes on disk per byte of output kept: about one.
            #expect(Double(onDisk) / Double(kept) < 1.05, "\(onDisk) bytes on disk for \(kept) bytes kept")
            try await host.stop()
        }

        @Test func controlBytesAreStoredOnceAndReplayedExactly() async throws {
            let dataDir = try TemporaryDirectory.make()
            defer { try? FileManager.default.removeItem(atPath: dataDir) }
            let host = try await HostProcess(dataDir: dataDir)
            let key = try host.adminKey
            let (_, sandbox) = try await host.createSandbox(key: key)
            // A million \x01, two more control bytes, and an é whose two bytes arrive apart.
            try await Self.start(host, key, sandbox, #"head -c 1000000 /dev/zero | tr '\0' '\1'; printf '\037\002\303'; sleep 0.3; printf '\251\n'"#, session: "ctl")
            let status = try await Self.waitExited(host, key, sandbox, "ctl")
            #expect(status["status"] as? String == "exited")
            let onDisk = Self.sessionBytes(dataDir, sandbox)
            #expect(onDisk < 1_050_000, "\(onDisk) bytes on disk for 1,000,005 bytes of output")
            let stream = try await host.requestBytes(.GET, "/api/sandboxes/\(sandbox)/sessions/ctl/stream", key: key, body: [])
            let data = SessionTests.events(stream.body).compactMap { $0.payload["data"] as? String }.joined()
            #expect(data == String(repeating: "\u{01}", count: 1_000_000) + "\u{1F}\u{02}é\n", "\(data.suffix(10).unicodeScalars.map { $0.value })")
            try await host.stop()
        }

        @Test func idleReadersCostNoMemoryAndAResumedReaderGetsEveryLineOnce() async throws {
            let dataDir = try TemporaryDirectory.make()
            defer { try? FileManager.default.removeItem(atPath: dataDir) }
            let host = try await HostProcess(dataDir: dataDir, environment: ["SANDBOX_HOST_SESSION_LOG_MB": "4"])
            let key = try host.adminKey
            let pid = host.process.processIdentifier
            let (_, sandbox) = try await host.createSandbox(key: key)
            // About 20 MB/s for about 15 s (paced, so the code before the fix does not fill the disk).
            try await Self.start(host, key, sandbox, "i=0; while [ $i -lt 300 ]; do yes 0123456789abcdef | head -c 1000000; sleep 0.03; i=$((i+1)); done", session: "flood")
            let readers = try (0..<3).map { _ in
                try Self.idleReader(port: host.port, path: "/api/sandboxes/\(sandbox)/sessions/flood/stream", key: key)
            }
            try await Task.sleep(for: .seconds(1))
            let baseline = Self.kiB(pid, "VmRSS")
            var peak = baseline
            for _ in 0..<60 {
                try await Task.sleep(for: .milliseconds(500))
                peak = max(peak, Self.kiB(pid, "VmRSS"))
                if try await !Self.running(host, key, sandbox, "flood") { break }
            }
            #expect(peak - baseline < 32 << 10, "host RSS grew by \((peak - baseline) >> 10) MiB with three idle readers")
            readers.forEach { close($0) }

            // A reader that reads part of a counter, goes away and resumes gets every line once.
            try await Self.start(host, key, sandbox, "seq 1 100000; sleep 1; seq 100001 200000", session: "count")
            var request = HTTPClientRequest(url: host.baseURL + "/api/sandboxes/\(sandbox)/sessions/count/stream")
            request.headers.add(name: "Authorization", value: "Bearer \(key)")
            var firstPart: [(id: Int?, payload: [String: Any])] = []
            do {
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
                var reader = EventStreamReader()
                for try await chunk in response.body {
                    firstPart += SessionTests.payloads(reader.feed(chunk))
                    if firstPart.count >= 3 { break }
                }
            }
            let resumeAt = try #require(firstPart.last?.id)
            var resume = HTTPClientRequest(url: host.baseURL + "/api/sandboxes/\(sandbox)/sessions/count/stream")
            resume.headers.add(name: "Authorization", value: "Bearer \(key)")
            resume.headers.add(name: "Last-Event-ID", value: String(resumeAt))
            let rest = try await HTTPClient.shared.execute(resume, timeout: .seconds(60))
            let restText = String(buffer: try await rest.body.collect(upTo: 64 << 20))
            let all = firstPart + SessionTests.events(restText)
            let ids = all.compactMap(\.id)
            #expect(ids == ids.sorted() && Set(ids).count == ids.count, "no event twice")
            let data = all.compactMap { $0.payload["data"] as? String }.joined()
            #expect(data == (1...200_000).map { "\($0)\n" }.joined(), "every line once, in order")
            #expect(all.last?.payload["type"] as? String == "exit")
            try await host.stop()
        }

        @Test func aRestartedHostReopensABigLogWithoutReadingItWhole() async throws {
            let dataDir = try TemporaryDirectory.make()
            defer { try? FileManager.default.removeItem(atPath: dataDir) }
            let host = try await HostProcess(dataDir: dataDir)
            let key = try host.adminKey
            let (_, sandbox) = try await host.createSandbox(key: key)
            try await Self.start(host, key, sandbox, "yes 0123456789abcdef | head -c 60000000", session: "big")
            for _ in 0..<600 {
                if try await !Self.running(host, key, sandbox, "big") { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            try await host.stop()

            let restarted = try await HostProcess(dataDir: dataDir)
            let pid = restarted.process.processIdentifier
            try await Task.sleep(for: .milliseconds(500))
            let baseline = Self.kiB(pid, "VmHWM")
            let status = try await Self.read(restarted, "/api/sandboxes/\(sandbox)/sessions/big/status", key: key)
            #expect(status.status == 200 && status.bytes < 100_000, "a status of \(status.bytes) bytes")
            let logs = (Self.json(status.body)["commands"] as? [[String: Any]])?.first?["logs"] as? String ?? ""
            #expect(logs == Self.yesOutput(60_000_000, last: 64 << 10))
            let tail = try await restarted.request(.GET, "/api/sandboxes/\(sandbox)/sessions/big/stream?after=1000000000", key: key)
            #expect(tail.status == 200)
            let sessions = try await restarted.request(.GET, "/api/sandboxes/\(sandbox)/sessions", key: key)
            #expect(sessions.body.contains("\"big\""))
            let peak = Self.kiB(pid, "VmHWM")
            #expect(peak - baseline < 24 << 10, "peak RSS grew by \((peak - baseline) >> 10) MiB reopening a 60 MB log")
            try await restarted.stop()
        }
    }
}
