import AgentLoop
import ArgumentParser
import Dispatch
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
#if canImport(Glibc)
import Glibc
#endif

/// The `shell` command's side of a terminal's WebSocket: the handshake (the key in the
/// `Authorization` header), then standard input → binary frames, SIGWINCH → resize messages,
/// output frames → standard output, until the exit frame.
enum ShellSocket {
    typealias Frames = NIOAsyncChannel<WebSocketFrame, WebSocketFrame>

    enum Upgrade: Sendable {
        case websocket(Frames)
        case refused
    }

    static func connect(host: String, port: Int, path: String, key: String) async throws -> Frames {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "\(host):\(port)")
        headers.add(name: "Authorization", value: "Bearer \(key)")
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
        let negotiated: EventLoopFuture<Upgrade> = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let upgrader = NIOTypedWebSocketClientUpgrader<Upgrade>(maxFrameSize: 1 << 20) { channel, _ in
                        channel.eventLoop.makeCompletedFuture { .websocket(try Frames(wrappingChannelSynchronously: channel)) }
                    }
                    let configuration = NIOTypedHTTPClientUpgradeConfiguration<Upgrade>(
                        upgradeRequestHead: head, upgraders: [upgrader],
                        notUpgradingCompletionHandler: { channel in
                            channel.close(promise: nil)
                            return channel.eventLoop.makeSucceededFuture(.refused)
                        })
                    return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                        configuration: .init(upgradeConfiguration: configuration))
                }
            }
        switch try await negotiated.get() {
        case .websocket(let frames): return frames
        case .refused: throw ValidationError("the host refused the terminal's WebSocket")
        }
    }

    /// Relays until the terminal's exit frame (its code) or the connection's end (1).
    static func relay(_ frames: Frames) async throws -> Int {
        try await frames.executeThenClose { inbound, outbound in
            // Standard input is read on a thread of its own (a blocking read); it ends with the process.
            let input = AsyncStream<[UInt8]>(bufferingPolicy: .bufferingOldest(256)) { continuation in
                let thread = Thread {
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    while true {
                        let count = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
                        if count > 0 {
                            continuation.yield(Array(buffer[0..<count]))
                        } else if count < 0, errno == EINTR {
                            continue
                        } else {
                            continuation.finish()
                            return
                        }
                    }
                }
                thread.start()
            }
            let resizes = AsyncStream<Void>(bufferingPolicy: .bufferingNewest(1)) { continuation in
                signal(SIGWINCH, SIG_IGN)
                let source = SignalSource(DispatchSource.makeSignalSource(signal: SIGWINCH, queue: .global()))
                source.source.setEventHandler { continuation.yield() }
                source.source.resume()
                continuation.onTermination = { _ in source.source.cancel() }
            }
            return try await withThrowingTaskGroup(of: Int?.self) { group in
                group.addTask {
                    for await bytes in input {
                        try await outbound.write(WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: ByteBuffer(bytes: bytes)))
                    }
                    return nil  // input ended (a pipe): the shell goes on to its exit
                }
                group.addTask {
                    for await _ in resizes {
                        guard let size = ShellCommand.windowSize() else { continue }
                        let message = #"{"type":"resize","cols":\#(size.columns),"rows":\#(size.rows)}"#
                        try await outbound.write(WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: ByteBuffer(string: message)))
                    }
                    return nil
                }
                group.addTask {
                    var code = 1
                    for try await frame in inbound {
                        switch frame.opcode {
                        case .binary, .continuation:
                            writeOut(frame.unmaskedData)
                        case .text:
                            let text = String(buffer: frame.unmaskedData)
                            if let parsed = JSONValue.parse(text), parsed["type"]?.stringValue == "exit" {
                                code = Int(parsed["exit_code"]?.numberValue ?? 1)
                            } else {
                                writeOut(frame.unmaskedData)
                            }
                        case .ping:
                            try await outbound.write(WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData))
                        case .connectionClose:
                            return code
                        default:
                            continue
                        }
                    }
                    return code
                }
                while let result = try await group.next() {
                    if let code = result {
                        group.cancelAll()
                        return code
                    }
                }
                return 1
            }
        }
    }

    /// A dispatch source, which is thread-safe but not marked Sendable.
    final class SignalSource: @unchecked Sendable {
        let source: any DispatchSourceSignal
        init(_ source: any DispatchSourceSignal) { self.source = source }
    }

    private static func writeOut(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(1, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0, errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }
}
