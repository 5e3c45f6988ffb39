import NIOCore

/// The resolver's UDP socket: each datagram goes to `DNSResolver.receive`, and the answer goes back
/// to its source. Errors (a client's ICMP unreachable) never close the socket.
final class DNSDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let resolver: DNSResolver

    init(resolver: DNSResolver) {
        self.resolver = resolver
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let source = envelope.remoteAddress
        let channel = context.channel
        resolver.receive(Array(envelope.data.readableBytesView), from: source, overTCP: false) { answer in
            // A socket whose send buffer is full drops the answer, as the network would.
            guard let answer, channel.isWritable else { return }
            channel.writeAndFlush(AddressedEnvelope(remoteAddress: source, data: ByteBuffer(bytes: answer)), promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}
