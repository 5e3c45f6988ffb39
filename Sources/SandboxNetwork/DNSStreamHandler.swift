import NIOCore

/// One sandbox's TCP connection to the resolver (after `DNSFrameDecoder`). A source that is not a
/// sandbox, or has too many connections open, is closed at once. At most `queriesPerConnection`
/// questions are answered at a time; while that many are out (or the client is not reading its
/// answers) the handler stops reading, and a client that pipelines more than `backlogLimit`
/// frames in what was already read is closed. Idle (nothing read or written, nothing in flight)
/// for the resolver's idle timeout, the connection closes.
final class DNSStreamHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let backlogLimit = 16

    private let resolver: DNSResolver
    private var source: SocketAddress?
    private var sourceKey: String?
    private var inFlight = 0
    private var backlog = CircularBuffer<[UInt8]>()
    private var readPending = false
    private var open = true

    init(resolver: DNSResolver) {
        self.resolver = resolver
    }

    func channelActive(context: ChannelHandlerContext) {
        guard let remote = context.remoteAddress, let key = resolver.admitConnection(from: remote) else {
            open = false
            context.close(promise: nil)
            return
        }
        source = remote
        sourceKey = key
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        open = false
        backlog.removeAll()
        if let sourceKey {
            resolver.releaseConnection(sourceKey)
            self.sourceKey = nil
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard open else { return }
        let frame = Array(unwrapInboundIn(data).readableBytesView)
        if inFlight < resolver.limits.queriesPerConnection {
            start(frame, context: context)
        } else if backlog.count < Self.backlogLimit {
            backlog.append(frame)
        } else {
            open = false
            context.close(promise: nil)
        }
    }

    func read(context: ChannelHandlerContext) {
        if open, inFlight < resolver.limits.queriesPerConnection, context.channel.isWritable {
            context.read()
        } else {
            readPending = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        resumeReading(context)
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            if inFlight == 0 { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        open = false
        context.close(promise: nil)
    }

    private func start(_ frame: [UInt8], context: ChannelHandlerContext) {
        guard let source else { return }
        inFlight += 1
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let accepted = resolver.receive(frame, from: source, overTCP: true) { answer in
            loop.execute {
                let (handler, context) = bound.value
                handler.finished(answer, context: context)
            }
        }
        if !accepted { inFlight -= 1 }
    }

    private func finished(_ answer: [UInt8]?, context: ChannelHandlerContext) {
        inFlight -= 1
        guard open else { return }
        if let answer {
            context.writeAndFlush(wrapOutboundOut(DNSFrameDecoder.frame(answer)), promise: nil)
        }
        while inFlight < resolver.limits.queriesPerConnection, let next = backlog.popFirst() {
            start(next, context: context)
        }
        resumeReading(context)
    }

    private func resumeReading(_ context: ChannelHandlerContext) {
        guard readPending, open, inFlight < resolver.limits.queriesPerConnection, context.channel.isWritable else { return }
        readPending = false
        context.read()
    }
}
