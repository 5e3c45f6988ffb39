import NIOCore
import NIOPosix
import Synchronization
@testable import SandboxNetwork

/// A test's DNS client: a UDP socket or a TCP connection from a chosen loopback source address
/// (the resolver knows sandboxes by source), keeping every message it receives.
final class DNSProbe: Sendable {
    let channel: any Channel
    private let inbox: DNSProbeInbox
    let overTCP: Bool

    private init(channel: any Channel, inbox: DNSProbeInbox, overTCP: Bool) {
        self.channel = channel
        self.inbox = inbox
        self.overTCP = overTCP
    }

    static func udp(from source: String = "127.0.0.1") async throws -> DNSProbe {
        let inbox = DNSProbeInbox()
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DNSProbeDatagramHandler(inbox: inbox))
                }
            }
            .bind(host: source, port: 0).get()
        return DNSProbe(channel: channel, inbox: inbox, overTCP: false)
    }

    static func tcp(to port: Int, from source: String = "127.0.0.1") async throws -> DNSProbe {
        let inbox = DNSProbeInbox()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(to: try SocketAddress(ipAddress: source, port: 0))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(DNSFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(DNSProbeStreamHandler(inbox: inbox))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return DNSProbe(channel: channel, inbox: inbox, overTCP: true)
    }

    /// A query for `labels` (a name's labels, given raw so a test can put a dot inside one).
    static func query(_ labels: [String], type: UInt16 = DNSMessage.typeA, id: UInt16 = .random(in: 1 ... .max), edns: Int? = nil) -> [UInt8] {
        let question = DNSMessage.Question(name: DNSName(labels: labels.map { Array($0.utf8) }), type: type, recordClass: DNSMessage.classIN)
        return DNSMessage.query(id: id, question: question, ednsPayloadSize: edns)
    }

    static func query(_ name: String, type: UInt16 = DNSMessage.typeA, edns: Int? = nil) -> [UInt8] {
        query(name.split(separator: ".").map(String.init), type: type, edns: edns)
    }

    /// Sends `bytes`; the future completes once they are written (a flood awaits it now and
    /// then, so that it does not queue thousands of writes on an event loop other tests share).
    @discardableResult
    func send(_ bytes: [UInt8], to port: Int) -> EventLoopFuture<Void> {
        if overTCP {
            return channel.writeAndFlush(DNSFrameDecoder.frame(bytes))
        } else {
            let target = try! SocketAddress(ipAddress: "127.0.0.1", port: port)
            return channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(bytes: bytes)))
        }
    }

    /// The next message received, or nil when none comes within `timeout`.
    func receive(timeout: Duration = .seconds(5)) async -> [UInt8]? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let message = inbox.pop() { return message }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return inbox.pop()
    }

    /// Sends `bytes` and waits for the answer.
    func ask(_ bytes: [UInt8], port: Int, timeout: Duration = .seconds(5)) async -> DNSMessage? {
        send(bytes, to: port)
        guard let answer = await receive(timeout: timeout) else { return nil }
        return DNSMessage(parsing: answer)
    }

    var received: Int { inbox.total }
    var isOpen: Bool { channel.isActive }

    func close() async {
        try? await channel.close()
    }
}

final class DNSProbeInbox: Sendable {
    private let state = Mutex<(messages: [[UInt8]], total: Int)>(([], 0))

    func push(_ message: [UInt8]) {
        state.withLock { $0.messages.append(message); $0.total += 1 }
    }

    func pop() -> [UInt8]? {
        state.withLock { $0.messages.isEmpty ? nil : $0.messages.removeFirst() }
    }

    var total: Int { state.withLock { $0.total } }
}

private final class DNSProbeDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let inbox: DNSProbeInbox
    init(inbox: DNSProbeInbox) { self.inbox = inbox }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inbox.push(Array(unwrapInboundIn(data).data.readableBytesView))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

private final class DNSProbeStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let inbox: DNSProbeInbox
    init(inbox: DNSProbeInbox) { self.inbox = inbox }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inbox.push(Array(unwrapInboundIn(data).readableBytesView))
    }
}
