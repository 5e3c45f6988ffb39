import NIOCore
import NIOHTTP1

/// Closes a new connection whose first request head is not complete within `timeout` of its
/// opening: a silent client, or one sending its head a byte at a time, would hold the connection
/// (and a descriptor) for ever, since nothing else times out before a request starts.
///
/// It sits right after the HTTP decoder, so it sees the head the moment it is parsed, whether
/// the request goes on as HTTP or as a WebSocket upgrade; then it removes itself (after an
/// upgrade the decoder's parts are gone from the pipeline). From the first head on, the HTTP
/// channel's idle timeout governs the connection.
final class HeaderDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?
    private var disarmed = false

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let isHead = if case .head = unwrapInboundIn(data) { true } else { false }
        context.fireChannelRead(data)
        if isHead, !disarmed {
            disarm()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    private func arm(_ context: ChannelHandlerContext) {
        guard deadline == nil, !disarmed else { return }
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            context.close(promise: nil)
        }
    }

    private func disarm() {
        disarmed = true
        deadline?.cancel()
        deadline = nil
    }
}
