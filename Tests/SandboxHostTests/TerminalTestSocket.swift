import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOCore
import Synchronization
import Testing

/// A real WebSocket client of a terminal (hummingbird-websocket's client): keeps the last
/// `tailBytes` of output, sends input and resizes, and records the exit frame. With
/// `reading: false` it never reads, so the server's writes to it back up.
final class TerminalTestSocket: Sendable {
    static let tailBytes = 256 << 10

    private let state = Mutex(State())

    private struct State {
        var tail: [UInt8] = []
        var received = 0
        var exitCode: Int?
        var outbound: WebSocketOutboundWriter?
        var ended = false
        var failure: String?
        var stop = false
    }

    /// Connects to `/api/sandboxes/{sandbox}/pty/{terminal}/ws` with the key as a Bearer header
    /// (or `?token=`), and waits until the upgrade is done.
    static func connect(
        port: Int, sandbox: String, terminal: String, key: String, reading: Bool = true, queryToken: Bool = false
    ) async throws -> TerminalTestSocket {
        let socket = TerminalTestSocket()
        var configuration = WebSocketClientConfiguration()
        configuration.autoPing = .disabled
        let path = "/api/sandboxes/\(sandbox)/pty/\(terminal)/ws" + (queryToken ? "?token=\(key)" : "")
        if !queryToken { configuration.additionalHeaders[.authorization] = "Bearer \(key)" }
        var logger = Logger(label: "terminal-test")
        logger.logLevel = .critical
        Task {
            do {
                try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)\(path)", configuration: configuration, logger: logger) { inbound, outbound, _ in
                    socket.state.withLock { $0.outbound = outbound }
                    if reading {
                        for try await frame in inbound { socket.receive(frame) }
                    } else {
                        while !socket.state.withLock({ $0.stop }) { try await Task.sleep(for: .milliseconds(50)) }
                    }
                }
            } catch {
                socket.state.withLock { $0.failure = "\(error)" }
            }
            socket.state.withLock { $0.ended = true }
        }
        try await waitUntil("the terminal's WebSocket to open", timeout: .seconds(20)) {
            socket.state.withLock { $0.outbound != nil || $0.ended }
        }
        if let failure = socket.state.withLock({ $0.outbound == nil ? ($0.failure ?? "closed") : nil }) {
            throw TerminalTestError("WebSocket not opened: \(failure)")
        }
        return socket
    }

    private func receive(_ frame: WebSocketDataFrame) {
        let bytes = frame.data.getBytes(at: frame.data.readerIndex, length: frame.data.readableBytes) ?? []
        state.withLock { state in
            if frame.opcode == .text, let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
               object["type"] as? String == "exit" {
                state.exitCode = object["exit_code"] as? Int
                return
            }
            state.received += bytes.count
            state.tail.append(contentsOf: bytes)
            if state.tail.count > Self.tailBytes { state.tail.removeFirst(state.tail.count - Self.tailBytes) }
        }
    }

    /// The last output received, as text.
    var text: String { state.withLock { String(decoding: $0.tail, as: UTF8.self) } }
    var received: Int { state.withLock { $0.received } }
    var exitCode: Int? { state.withLock { $0.exitCode } }
    var ended: Bool { state.withLock { $0.ended } }

    func send(_ text: String) async throws {
        let outbound = try #require(state.withLock { $0.outbound })
        try await outbound.write(.binary(ByteBuffer(string: text)))
    }

    func sendText(_ text: String) async throws {
        let outbound = try #require(state.withLock { $0.outbound })
        try await outbound.write(.text(text))
    }

    func resize(columns: Int, rows: Int) async throws {
        try await sendText(#"{"type":"resize","cols":\#(columns),"rows":\#(rows)}"#)
    }

    /// Waits until the output holds a match of `pattern` (a regular expression); answers it.
    @discardableResult
    func waitFor(_ pattern: String, timeout: Duration = .seconds(20)) async throws -> String {
        let expression = try NSRegularExpression(pattern: pattern)
        var found: String?
        do {
            try await waitUntil("output matching \(pattern)", timeout: timeout, every: .milliseconds(20)) {
                let text = self.text
                guard let match = expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
                      let range = Range(match.range, in: text) else { return false }
                found = String(text[range])
                return true
            }
        } catch {
            throw TerminalTestError("no output matching \(pattern); the last of it: \(text.suffix(600).debugDescription)")
        }
        return found ?? ""
    }

    func waitExit(timeout: Duration = .seconds(20)) async throws -> Int {
        do {
            try await waitUntil("the exit frame", timeout: timeout) { self.exitCode != nil }
        } catch {
            throw TerminalTestError("no exit frame (ended: \(ended)); the last output: \(text.suffix(600).debugDescription)")
        }
        return exitCode ?? -1
    }

    /// Closes the connection (a non-reading client stops its handler, which closes it).
    func close() async {
        let outbound = state.withLock { state in
            state.stop = true
            return state.outbound
        }
        try? await outbound?.close(.normalClosure, reason: nil)
        try? await waitUntil("the WebSocket to close", timeout: .seconds(10)) { self.ended }
    }
}

struct TerminalTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
