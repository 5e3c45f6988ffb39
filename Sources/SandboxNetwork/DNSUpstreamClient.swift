import NIOCore
import NIOPosix

/// Asks the upstream resolvers a question on the sandboxes' behalf: over UDP (a fresh socket on a
/// random port and a random id per attempt, a timeout, one retry on the next upstream), over TCP
/// when the UDP answer is truncated or the sandbox itself asked over TCP. Everything runs on NIO's
/// event loops; nothing blocks.
struct DNSUpstreamClient: Sendable {
    /// What the resolver offers upstreams over UDP when the sandbox speaks EDNS (the DNS flag day
    /// 2020 size: no fragmentation on any common path).
    static let ednsPayloadSize = 1232
    /// Bytes read per UDP datagram from an upstream: more than `ednsPayloadSize`; a longer
    /// datagram is cut, fails to parse and the question goes over TCP.
    static let datagramReadSize = 4096

    let upstreams: [SocketAddress]
    let group: any EventLoopGroup
    /// Per attempt.
    let timeout: TimeAmount

    init(upstreams: [DNSUpstream], group: any EventLoopGroup, timeout: TimeAmount) {
        self.upstreams = upstreams.compactMap { try? SocketAddress(ipAddress: $0.address.description, port: $0.port) }
        self.group = group
        self.timeout = timeout
    }

    /// The first upstream answer to `question` that is a well-formed response to it, or nil when
    /// none came (every attempt timed out, failed, or answered something else).
    func resolve(_ question: DNSMessage.Question, edns: Bool, overTCP: Bool) async -> (bytes: [UInt8], message: DNSMessage)? {
        guard !upstreams.isEmpty else { return nil }
        let start = Int.random(in: 0..<upstreams.count)
        for attempt in 0..<2 {
            let upstream = upstreams[(start + attempt) % upstreams.count]
            if !overTCP {
                let id = UInt16.random(in: .min ... .max)
                let query = DNSMessage.query(id: id, question: question, ednsPayloadSize: edns ? Self.ednsPayloadSize : nil)
                guard let bytes = await datagramExchange(query, id: id, with: upstream) else { continue }
                if let answer = Self.checked(bytes, id: id, question: question), !answer.message.isTruncated {
                    return answer
                }
                // Truncated (or cut by our read size): the same upstream, over TCP.
            }
            let id = UInt16.random(in: .min ... .max)
            let query = DNSMessage.query(id: id, question: question, ednsPayloadSize: edns ? Self.ednsPayloadSize : nil)
            if let bytes = await streamExchange(query, id: id, with: upstream), let answer = Self.checked(bytes, id: id, question: question) {
                return answer
            }
        }
        return nil
    }

    /// `bytes` parsed, if they are a response with our id to our question.
    private static func checked(_ bytes: [UInt8], id: UInt16, question: DNSMessage.Question) -> (bytes: [UInt8], message: DNSMessage)? {
        guard let message = DNSMessage(parsing: bytes), message.isResponse, message.id == id,
              message.opcode == 0, message.questions == [question]
        else { return nil }
        return (bytes, message)
    }

    private func datagramExchange(_ query: [UInt8], id: UInt16, with upstream: SocketAddress) async -> [UInt8]? {
        let loop = group.next()
        let promise = loop.makePromise(of: [UInt8]?.self)
        let bootstrap = DatagramBootstrap(group: loop)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: Self.datagramReadSize))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DNSUpstreamDatagramHandler(upstream: upstream, id: id, promise: promise))
                }
            }
        // Connected: the kernel drops datagrams from any other address, and an ICMP unreachable
        // fails the exchange at once instead of at the timeout.
        guard let channel = try? await bootstrap.connect(to: upstream).get() else { return nil }
        let deadline = loop.scheduleTask(in: timeout) { promise.succeed(nil) }
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: upstream, data: ByteBuffer(bytes: query)), promise: nil)
        let answer = try? await promise.futureResult.get()
        deadline.cancel()
        channel.close(promise: nil)
        return answer ?? nil
    }

    private func streamExchange(_ query: [UInt8], id: UInt16, with upstream: SocketAddress) async -> [UInt8]? {
        let loop = group.next()
        let promise = loop.makePromise(of: [UInt8]?.self)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let decoder = ByteToMessageHandler(DNSFrameDecoder(), maximumBufferSize: DNSFrameDecoder.maximumBufferSize)
                    try channel.pipeline.syncOperations.addHandler(decoder)
                    try channel.pipeline.syncOperations.addHandler(DNSUpstreamStreamHandler(id: id, promise: promise))
                }
            }
        // One deadline for the connect and the exchange.
        let deadline = loop.scheduleTask(in: timeout) { promise.succeed(nil) }
        guard let channel = try? await bootstrap.connect(to: upstream).get() else {
            deadline.cancel()
            return nil
        }
        channel.writeAndFlush(DNSFrameDecoder.frame(query), promise: nil)
        let answer = try? await promise.futureResult.get()
        deadline.cancel()
        channel.close(promise: nil)
        return answer ?? nil
    }
}
