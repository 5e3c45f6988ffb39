import NIOCore

/// One TCP exchange with an upstream (after `DNSFrameDecoder`): completes `promise` with the
/// first frame carrying the query's id, or nil when the connection fails or closes first.
final class DNSUpstreamStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let id: UInt16
    private let promise: EventLoopPromise<[UInt8]?>

    init(id: UInt16, promise: EventLoopPromise<[UInt8]?>) {
        self.id = id
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard frame.getInteger(at: frame.readerIndex, as: UInt16.self) == id else { return }
        promise.succeed(Array(frame.readableBytesView))
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.succeed(nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.succeed(nil)
        context.close(promise: nil)
    }
}
