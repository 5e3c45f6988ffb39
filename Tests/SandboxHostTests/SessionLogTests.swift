import Foundation
import Testing
@testable import SandboxHost
@testable import SandboxRuntime

/// The session log on its own (no sandbox): bytes stored once, the cap, rotation under a slow
/// reader, and reopening after a crash.
struct SessionLogTests {
    static func diskBytes(_ directory: String) -> Int {
        SessionLogWriter.shared.drain()
        return ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).reduce(0) { total, name in
            total + (((try? FileManager.default.attributesOfItem(atPath: directory + "/" + name))?[.size] as? Int) ?? 0)
        }
    }

    /// Every event from the cursor's place to the end of the log.
    static func readAll(_ cursor: SessionCursor, budget: Int = 256 << 10) -> [SessionEvent] {
        SessionLogWriter.shared.drain()
        var events: [SessionEvent] = []
        while true {
            let batch = cursor.read(budget: budget)
            events += batch.events
            if batch.caughtUp { return events }
        }
    }

    static func feed(_ session: Session, _ bytes: [UInt8], stream: OutputCollector.Stream = .stdout, chunk: Int = 65_536) {
        var start = 0
        while start < bytes.count {
            session.output(id: "c", stream: stream, bytes: Array(bytes[start..<min(bytes.count, start + chunk)]))
            start += chunk
        }
    }

    @Test func controlAndBinaryOutputIsStoredOnceAndControlBytesReplayExactly() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let session = try Session(name: "s", directory: directory, capacity: 64 << 20)
        session.started(id: "c", command: "x", number: 1)
        let control = (0..<300_000).map { UInt8(1 + $0 % 31) }
        let binary = (0..<300_000).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 11) }
        Self.feed(session, control)
        Self.feed(session, binary, stream: .stderr)
        session.exited(id: "c", code: 0)
        let ratio = Double(Self.diskBytes(directory)) / 600_000
        #expect(ratio < 1.01, "\(ratio) bytes on disk per byte of output")

        let events = Self.readAll(session.cursor(after: 0))
        let stdout = events.filter { $0.stream == "stdout" }.compactMap(\.data).joined()
        #expect(Array(stdout.utf8) == control)
        #expect(events.last?.type == .exit && events.last?.exit_code == 0)
        // The binary bytes themselves, as stored.
        var stored: [UInt8] = []
        SessionLogWriter.shared.drain()
        for (fd, end) in session.openSegments() {
            _ = SessionLogScanner.scan(fd, from: 0, to: end) { record in
                if record.kind == .stderr { stored += record.body }
                return true
            }
            close(fd)
        }
        #expect(stored == binary)
    }

    @Test func aCharacterSplitBetweenTwoReadsIsLoggedWhole() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let session = try Session(name: "s", directory: directory, capacity: 1 << 20)
        session.started(id: "c", command: "x", number: 1)
        session.output(id: "c", stream: .stdout, bytes: [0x61, 0xE2, 0x82])
        session.output(id: "c", stream: .stdout, bytes: [0xAC, 0x0A, 0xC3])
        session.exited(id: "c", code: 0)
        let data = Self.readAll(session.cursor(after: 0)).compactMap(\.data).joined()
        #expect(data == "a€\n\u{FFFD}")
    }

    @Test func theLogKeepsItsCapAndAReplayFromBeforeItStartsWithTruncated() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let session = try Session(name: "s", directory: directory, capacity: 1 << 20)
        session.started(id: "c", command: "x", number: 1)
        Self.feed(session, Array(repeating: 0x61, count: 10 << 20))
        session.exited(id: "c", code: 3)
        #expect(Self.diskBytes(directory) <= (1 << 20) + 65_536 + 200)

        let events = Self.readAll(session.cursor(after: 0))
        let first = try #require(events.first)
        #expect(first.type == .truncated)
        let sequences = events.map(\.sequence)
        #expect(sequences == Array(first.sequence...session.lastSequence), "every kept event once, in order")
        let kept = events.compactMap(\.data).reduce(0) { $0 + $1.utf8.count }
        // Three full segments but for the room a record leaves at each one's end: at least half
        // the cap with records of 64 KiB in a 1 MiB cap; at least 47 MiB of the default 64.
        #expect(kept >= 1 << 19, "\(kept) bytes kept")
        #expect(events.last?.exit_code == 3)
        // Resuming from the mark (or later) is not truncated again.
        #expect(Self.readAll(session.cursor(after: first.sequence)).first?.type == .log)
    }

    @Test func aReaderOvertakenByTheRotationGetsTruncatedThenEveryLaterEventOnce() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let session = try Session(name: "s", directory: directory, capacity: 1 << 20)
        session.started(id: "c", command: "x", number: 1)
        Self.feed(session, Array(repeating: 0x61, count: 100_000), chunk: 1_000)
        SessionLogWriter.shared.drain()
        let cursor = session.cursor(after: 0)
        let early = cursor.read(budget: 10_000)
        #expect(!early.caughtUp && early.events.first?.type == .command)
        Self.feed(session, Array(repeating: 0x62, count: 5 << 20), chunk: 1_000)
        let rest = Self.readAll(cursor)
        #expect(rest.filter { $0.type == .truncated }.count == 1)
        let sequences = (early.events + rest).map(\.sequence)
        #expect(sequences == sequences.sorted() && Set(sequences).count == sequences.count)
        #expect(sequences.last == session.lastSequence)
    }

    @Test func aReopenedSessionContinuesItsLogAndCutsARecordTornByACrash() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var last = 0
        do {
            let session = try Session(name: "s", directory: directory, capacity: 1 << 20)
            session.started(id: "c", command: "echo hi", number: 1)
            Self.feed(session, Array("hello\n".utf8))
            session.exited(id: "c", code: 7)
            last = session.lastSequence
            SessionLogWriter.shared.drain()
        }
        // A crash in the middle of a write: half a record at the end of the newest segment.
        let newest = try #require(try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".log") }.max())
        let handle = try #require(FileHandle(forWritingAtPath: directory + "/" + newest))
        handle.seekToEndOfFile()
        handle.write(Data([0x40, 0, 0, 0, 2, 9, 9]))
        handle.closeFile()

        let session = try Session(name: "s", directory: directory, capacity: 1 << 20)
        #expect(session.lastSequence == last)
        #expect(session.commands.map(\.command) == ["echo hi"] && session.commands.first?.exitCode == 7)
        session.started(id: "d", command: "echo again", number: 2)
        session.output(id: "d", stream: .stdout, bytes: Array("again\n".utf8))
        let events = Self.readAll(session.cursor(after: 0))
        #expect(events.map(\.sequence) == Array(1...(last + 2)))
        #expect(events.compactMap(\.data) == ["hello\n", "again\n"])
        #expect(SessionLogTail.read(session) == ["c": "hello\n", "d": "again\n"])
    }

    @Test func statusKeepsTheLast64KiBOfEachCommand() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let session = try Session(name: "s", directory: directory, capacity: 64 << 20)
        session.started(id: "c", command: "x", number: 1)
        let text = (0..<100_000).map { "line \($0)\n" }.joined()
        Self.feed(session, Array(text.utf8), chunk: 4_000)
        SessionLogWriter.shared.drain()
        let logs = SessionLogTail.read(session)["c"] ?? ""
        #expect(logs.utf8.count == 64 << 10)
        #expect(text.hasSuffix(logs))
    }

    @Test func aLogOfTheEarlierJSONLinesFormIsConvertedWhenOpened() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var lines = [#"{"sequence":1,"type":"command","command_id":"c","command":"echo hi","timestamp":1000}"#]
        for sequence in 2..<20_002 {
            lines.append(#"{"sequence":\#(sequence),"type":"log","command_id":"c","stream":"stdout","data":"\u0001line \#(sequence)\n","timestamp":1001}"#)
        }
        lines.append(#"{"sequence":20002,"type":"exit","command_id":"c","exit_code":4,"timestamp":1002}"#)
        let legacy = directory + "/s.jsonl"
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: legacy))
        #expect(SessionLegacyLog.exists(legacy))
        try SessionLegacyLog.convert(legacy, into: directory + "/s", capacity: 256 << 10)
        #expect(!FileManager.default.fileExists(atPath: legacy))
        #expect(Self.diskBytes(directory + "/s") <= (256 << 10) + 65_536)

        let session = try Session(name: "s", directory: directory + "/s", capacity: 256 << 10)
        #expect(session.createdAt == Timestamp.iso8601(milliseconds: 1000))
        #expect(session.commands.map(\.command) == ["echo hi"] && session.commands.first?.exitCode == 4)
        let events = Self.readAll(session.cursor(after: 0))
        #expect(events.first?.type == .truncated)
        #expect(events.last?.type == .exit && events.last?.sequence == 20_002)
        #expect(events.dropLast().last?.data == "\u{01}line 20001\n")
        #expect(events.map(\.sequence) == Array((events.first?.sequence ?? 0)...20_002))
    }
}
