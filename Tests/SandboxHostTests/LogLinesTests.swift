import Testing
@testable import SandboxHost

/// The dev-server stream's line splitter holds at most one bounded partial line per stream.
struct LogLinesTests {
    @Test func linesSplitAcrossChunksAndStreams() {
        var lines = LogLines()
        #expect(lines.feed("a\nb", key: "stdout") == ["a"])
        #expect(lines.feed("x\r\n", key: "stderr") == ["x"])
        #expect(lines.feed("c\nd", key: "stdout") == ["bc"])
        // A CRLF split between chunks, and a lone "\r" inside a line.
        #expect(lines.feed("y\r", key: "stderr") == [])
        #expect(lines.feed("\nz\rw\n", key: "stderr") == ["y", "z\rw"])
        #expect(lines.flush().map(\.line) == ["d"])
    }

    @Test func outputThatNeverEndsALineIsCutAtTheLimitOnACharacterBoundary() {
        var lines = LogLines()
        var out: [String] = []
        // 1 MiB without a newline, in 4 KiB chunks, with a two-byte character across each limit.
        let chunk = String(repeating: "é", count: 2048)
        for _ in 0..<256 { out += lines.feed(chunk, key: "stdout") }
        #expect(out.allSatisfy { $0.utf8.count <= LogLines.longestLine && $0.utf8.count > LogLines.longestLine - 2 })
        let rest = lines.flush().map(\.line).joined()
        #expect(rest.utf8.count <= LogLines.longestLine)
        #expect((out.joined() + rest) == String(repeating: "é", count: 2048 * 256))
    }
}
