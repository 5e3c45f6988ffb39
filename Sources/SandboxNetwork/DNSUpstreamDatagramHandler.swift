import NIOCore

/// One UDP exchange with an upstream: completes `promise` with the first datagram that comes from
/// that upstream's address and port and carries the query's id; anything else is ignored (an
/// off-path forger has to guess the random id and the random source port). An error (an ICMP
/// port unreachable) completes it with nil.
final class DNSUpstreamDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let upstream: SocketAddress
    private let id: UInt16
    private let promise: EventLoopPromise<[UInt8]?>

    init(upstream: SocketAddress, id: UInt16, promise: EventLoopPromise<[UInt8]?>) {
        self.upstream = upstream
        self.id = id
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress == upstream, envelope.data.getInteger(at: envelope.data.readerIndex, as: UInt16.self) == id else {
            return
        }
        promise.succeed(Array(envelope.data.readableBytesView))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.succeed(nil)
    }
}
