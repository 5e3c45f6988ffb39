import Testing
@testable import SandboxHost

/// The terminal's scrollback ring against the plain answer: the last 64 KiB of everything.
@Suite(.timeLimit(.minutes(1))) struct TerminalScrollbackTests {
    @Test("keeps exactly the last 64 KiB, whatever the chunk sizes")
    func keepsTheTail() {
        var ring = TerminalScrollback()
        var everything: [UInt8] = []
        var generator = SystemRandomNumberGenerator()
        for round in 0..<400 {
            let size = [1, 7, 4095, 16 << 10, 70_000, Int.random(in: 0...30_000, using: &generator)][round % 6]
            let chunk = (0..<size).map { UInt8(32 + ($0 + round) % 90) }
            ring.append(chunk)
            everything += chunk
            #expect(ring.contents == Array(everything.suffix(TerminalScrollback.capacity)), "round \(round)")
        }
    }

    @Test("a character the ring cut in two is dropped from the front, not shown broken")
    func cutCharacter() {
        var ring = TerminalScrollback()
        ring.append(Array("é".utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: TerminalScrollback.capacity - 1))
        #expect(ring.contents.count == TerminalScrollback.capacity - 1)
        #expect(ring.contents.allSatisfy { $0 == UInt8(ascii: "a") })
        var short = TerminalScrollback()
        short.append(Array("héllo".utf8))
        #expect(short.contents == Array("héllo".utf8))
    }
}
