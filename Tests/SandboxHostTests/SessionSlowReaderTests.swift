import AsyncHTTPClient
import Foundation
import Testing
@testable import SandboxHost

extension HeavySuites {
    /// A session stream read far slower than its command writes, against the real binary: the
    /// host follows the log with a cursor, so the reader costs it no memory however far behind
    /// it falls, and a reader that resumes gets every line after its resume point once.
    @Suite(.enabled(if: runningAsRoot, "sandboxes need root, as in CI"))
    struct SessionSlowReaderTests {
        typealias Output = SessionOutputTests

        /// Reads from `fd` at `bytesPerSecond` for `seconds` (in tenths of a second), calling
        /// `every` after each read; answers what it read.
        static func slowRead(_ fd: Int32, bytesPerSecond: Int, seconds: Int, every: () async throws -> Void) async throws -> [UInt8] {
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: bytesPerSecond / 10)
            for _ in 0..<(seconds * 10) {
                try await Task.sleep(for: .milliseconds(100))
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                if count > 0 { received += buffer[0..<count] }
                try await every()
            }
            return received
        }

        /// Reads from `fd` as fast as it comes until `done(what was read)`, for up to `seconds`.
        static func readOn(_ fd: Int32, _ received: inout [UInt8], seconds: Int = 60, until done: ([UInt8]) -> Bool) async throws {
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            let deadline = ContinuousClock.now + .seconds(seconds)
            while !done(received), ContinuousClock.now < deadline {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                if count > 0 { received += buffer[0..<count] } else { try await Task.sleep(for: .milliseconds(5)) }
            }
        }

        /// The body of a raw chunked HTTP response, as far as it was read (a last chunk cut short
        /// gives what it has).
        static func dechunked(_ raw: [UInt8]) -> String {
            let bytes = raw[...]
            guard let headerEnd = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else { return "" }
            var rest = bytes[headerEnd.upperBound...]
            var body: [UInt8] = []
            while let lineEnd = rest.firstRange(of: Array("\r\n".utf8)),
                  let size = Int(String(decoding: rest[..<lineEnd.lowerBound], as: UTF8.self), radix: 16), size > 0 {
                let data = rest[lineEnd.upperBound...].prefix(size)
                body += data
                guard data.count == size else { break }
                rest = rest[(lineEnd.upperBound + size)...].dropFirst(2)
            }
            return String(decoding: body, as: UTF8.self)
        }

        /// The complete events in `text` (up to its last blank line).
        static func completeEvents(_ text: String) -> [(id: Int?, payload: [String: Any])] {
            guard let end = text.range(of: "\n\n", options: .backwards) else { return [] }
            return SessionTests.events(String(text[..<end.upperBound]))
        }

        @Test func aReaderOfYesAt1KBPerSecondCostsNoMemoryAndResumesWithEveryLineOnce() async throws {
            let dataDir = try TemporaryDirectory.make()
            defer { try? FileManager.default.removeItem(atPath: dataDir) }
            let host = try await HostProcess(dataDir: dataDir)
            let key = try host.adminKey
            let pid = host.process.processIdentifier
            let (_, sandbox) = try await host.createSandbox(key: key)
            // `yes`, numbered (so "every line once" can be checked), about 36 MB in about 20 s:
            // paced, and within the log's 64 MiB cap, so the resume point is still kept.
            try await Output.start(
                host, key, sandbox,
                "i=0; while [ $i -lt 300 ]; do yes 0123456789abcdef | head -n 5000; sleep 0.06; i=$((i+1)); done | cat -n",
                session: "yes")
            let path = "/api/sandboxes/\(sandbox)/sessions/yes/stream"
            try await Task.sleep(for: .milliseconds(300))
            let baseline = Output.kiB(pid, "VmRSS")
            var peak = baseline
            let reader = try Output.idleReader(port: host.port, path: path, key: key)
            var raw = try await Self.slowRead(reader, bytesPerSecond: 1024, seconds: 20) {
                peak = max(peak, Output.kiB(pid, "VmRSS"))
            }
            print("session slow reader: RSS \(baseline >> 10) MiB before, \(peak >> 10) MiB at most, \(raw.count) bytes read")
            // The pacing allows at most 20,400 bytes; a stream that did not flow reads far fewer.
            #expect((16 << 10)...(21 << 10) ~= raw.count, "read \(raw.count) bytes")
            #expect(peak - baseline < 32 << 10, "host RSS grew by \((peak - baseline) >> 10) MiB while a reader took 1 KB/s")

            // One event is a whole pipe read (up to 64 KiB): read on to the end of the third, then
            // resume after it; every line after it comes once, in order.
            try await Self.readOn(reader, &raw) { Self.completeEvents(Self.dechunked($0)).filter { $0.id != nil }.count >= 3 }
            close(reader)
            let first = Self.completeEvents(Self.dechunked(raw))
            let resumeAt = try #require(first.last { $0.id != nil }?.id, "no whole event in \(raw.count) bytes")
            _ = try await Output.waitExited(host, key, sandbox, "yes")
            var resume = HTTPClientRequest(url: host.baseURL + path)
            resume.headers.add(name: "Authorization", value: "Bearer \(key)")
            resume.headers.add(name: "Last-Event-ID", value: String(resumeAt))
            let response = try await HTTPClient.shared.execute(resume, timeout: .seconds(120))
            let rest = SessionTests.events(String(buffer: try await response.body.collect(upTo: 256 << 20)))
            let ids = rest.compactMap(\.id)
            #expect(ids.first.map { $0 > resumeAt } == true && ids == ids.sorted() && Set(ids).count == ids.count, "ids after \(resumeAt), each once")
            #expect(rest.first?.payload["type"] as? String != "truncated", "the resume point is still in the log")
            #expect(rest.last?.payload["type"] as? String == "exit")
            let data = (first.filter { ($0.id ?? 0) <= resumeAt } + rest).compactMap { $0.payload["data"] as? String }.joined()
            let lines = data.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            #expect(lines.count == 1_500_000, "\(lines.count) lines")
            let wrong = lines.enumerated().first { index, line in line != "\(String(repeating: " ", count: max(0, 6 - "\(index + 1)".count)))\(index + 1)\t0123456789abcdef" }
            #expect(wrong == nil, "line \(wrong.map { $0.offset + 1 } ?? 0) is \(wrong.map { String($0.element.prefix(40)) } ?? "")")
            try await host.stop()
        }
    }
}
