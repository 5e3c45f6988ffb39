import NIOCore
import NIOPosix
import Synchronization
@testable import SandboxNetwork

/// A fake upstream resolver on loopback, UDP and TCP on one port, answering a fixed zone (built
/// here byte by byte, not with the resolver's own code): `a.test` (TTL 5), names under
/// `allowed.test` (one a CNAME to `target.elsewhere.test`), `big.test` (truncated over UDP, 40
/// records over TCP), `many.allowed.test` (likewise, 1,000 records), `slow.test` (answered after `slowDelay`), anything else NXDOMAIN. It logs
/// every name it was asked, with the transport.
final class StubDNSUpstream: Sendable {
    let port: Int
    private let channels: [any Channel]
    private let asked: StubLog

    private init(port: Int, channels: [any Channel], asked: StubLog) {
        self.port = port
        self.channels = channels
        self.asked = asked
    }

    /// Names asked so far, as `udp a.test` / `tcp big.test`.
    var log: [String] { asked.names.withLock { $0 } }

    func wasAsked(_ name: String) -> Bool {
        log.contains { $0.hasSuffix(" " + name) }
    }

    static func start(slowDelay: TimeAmount = .milliseconds(200)) async throws -> StubDNSUpstream {
        let log = StubLog()
        for _ in 0..<10 {
            let datagram = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(StubDatagramHandler(log: log, slowDelay: slowDelay))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
            let port = datagram.localAddress!.port!
            do {
                let stream = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(DNSFrameDecoder()))
                            try channel.pipeline.syncOperations.addHandler(StubStreamHandler(log: log))
                        }
                    }
                    .bind(host: "127.0.0.1", port: port).get()
                return StubDNSUpstream(port: port, channels: [datagram, stream], asked: log)
            } catch {
                try? await datagram.close()
            }
        }
        throw ChannelError.inputClosed
    }

    func stop() async {
        for channel in channels { try? await channel.close() }
    }

    /// The name asked and the answer to `query`, or nil for a query the stub cannot read.
    static func answer(_ query: [UInt8], overTCP: Bool, log: StubLog) -> (name: String, bytes: [UInt8])? {
        guard query.count > 12 else { return nil }
        var offset = 12
        var labels: [String] = []
        while offset < query.count, query[offset] != 0 {
            let length = Int(query[offset])
            guard length < 64, offset + 1 + length < query.count else { return nil }
            labels.append(String(decoding: query[(offset + 1)...(offset + length)], as: UTF8.self).lowercased())
            offset += 1 + length
        }
        let questionEnd = offset + 5
        guard questionEnd <= query.count else { return nil }
        let name = labels.joined(separator: ".")
        log.names.withLock { $0.append((overTCP ? "tcp " : "udp ") + name) }
        let question = Array(query[12..<questionEnd])
        let hasOPT = query[11] != 0
        func a(_ owner: [UInt8], _ address: [UInt8], ttl: UInt32) -> [UInt8] {
            owner + [0, 1, 0, 1] + be32(ttl) + [0, UInt8(address.count)] + address
        }
        let here: [UInt8] = [0xC0, 12]
        var answers: [[UInt8]] = []
        var rcode: UInt8 = 0
        var truncated = false
        switch name {
        case "a.test": answers = [a(here, [198, 51, 100, 7], ttl: 5)]
        case "deny.test", "cdn.test", "x.cdn.test", "y.x.cdn.test": answers = [a(here, [198, 51, 100, 40], ttl: 60)]
        case "a.allowed.test": answers = [a(here, [198, 51, 100, 8], ttl: 600)]
        case "long.allowed.test": answers = [a(here, [198, 51, 100, 9], ttl: 86_400)]
        case "short.allowed.test": answers = [a(here, [198, 51, 100, 10], ttl: 5)]
        case "slow.test": answers = [a(here, [198, 51, 100, 30], ttl: 60)]
        case "cname.allowed.test":
            let target = wire(["target", "elsewhere", "test"])
            answers = [
                here + [0, 5, 0, 1] + be32(300) + [0, UInt8(target.count)] + target,
                a(target, [203, 0, 113, 9], ttl: 120),
            ]
        case "many.allowed.test":
            // A hostile name server's answer: 1,000 addresses (truncated over UDP).
            if overTCP {
                for index in 0..<1000 {
                    let address: [UInt8] = [198, 51, UInt8(100 + index / 250), UInt8(index % 250 + 1)]
                    answers.append(a(here, address, ttl: 60))
                }
            } else {
                truncated = true
            }
        case "big.test":
            if overTCP {
                answers = (1...40).map { a(here, [198, 51, 100, UInt8($0)], ttl: 60) }
            } else {
                truncated = true
            }
        default: rcode = 3
        }
        let flags: [UInt8] = [0x81 | (truncated ? 0x02 : 0), 0x80 | rcode]
        let counts: [UInt8] = [0, 1, UInt8(answers.count >> 8), UInt8(answers.count & 0xFF), 0, 0, 0, hasOPT ? 1 : 0]
        var bytes: [UInt8] = [query[0], query[1]] + flags + counts
        bytes += question
        for answer in answers { bytes += answer }
        if hasOPT { bytes += [0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0] }
        return (name, bytes)
    }

    private static func be32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    private static func wire(_ labels: [String]) -> [UInt8] {
        labels.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) } + [0]
    }
}

/// The names a `StubDNSUpstream` was asked.
final class StubLog: Sendable {
    let names = Mutex<[String]>([])
}

private final class StubDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let log: StubLog
    let slowDelay: TimeAmount

    init(log: StubLog, slowDelay: TimeAmount) {
        self.log = log
        self.slowDelay = slowDelay
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let query = Array(envelope.data.readableBytesView)
        guard let answer = StubDNSUpstream.answer(query, overTCP: false, log: log) else { return }
        let reply = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: answer.bytes))
        let channel = context.channel
        if answer.name == "slow.test" {
            context.eventLoop.scheduleTask(in: slowDelay) { channel.writeAndFlush(reply, promise: nil) }
        } else {
            context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
        }
    }

    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

private final class StubStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let log: StubLog

    init(log: StubLog) {
        self.log = log
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let query = Array(unwrapInboundIn(data).readableBytesView)
        guard let answer = StubDNSUpstream.answer(query, overTCP: true, log: log) else { return }
        context.writeAndFlush(wrapOutboundOut(DNSFrameDecoder.frame(answer.bytes)), promise: nil)
    }
}
