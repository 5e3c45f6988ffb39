import Logging
import NIOCore
import NIOPosix
import SandboxRuntime
import Synchronization

/// The sandboxes' resolver (API.md, "Network", DNS): one per host, on the resolver's address,
/// UDP and TCP. It knows a sandbox by the query's source address (`ResolverClients.client(at:)`;
/// any other source gets nothing), answers by the sandbox's policy now (`DNSVerdict`), forwards
/// what it may to the upstreams (`DNSUpstreamClient`), and in `allowlist` mode makes the answer's
/// addresses reachable (`ResolverClients.allow`) before it sends the answer. Queries in flight
/// are bounded per sandbox and in all, TCP connections per source and in all: a flood is dropped,
/// it does not queue. A sandbox has at most one `allow` in flight (`DNSLearnGate`), for at most
/// `learnedPerAnswer` addresses. Everything runs on NIO's event loops and in tasks that only await them.
final class DNSResolver: Sendable {
    struct Limits: Sendable {
        var queriesPerSandbox = 64
        var queriesTotal = 1024
        var connectionsPerSource = 8
        var connectionsTotal = 256
        var queriesPerConnection = 4
        /// A TCP connection with nothing in flight and no traffic for this long is closed.
        var idleTimeout: TimeAmount = .seconds(5)
        /// Per upstream attempt (two attempts per question).
        var upstreamTimeout: TimeAmount = .seconds(2)
        /// What `allow` is told an answer's addresses stay reachable, and the most an answer's
        /// TTLs say in `allowlist` mode (so a sandbox's cache keeps no name past its permission).
        var ttlRange: ClosedRange<Int> = 30...3600
        /// The most addresses one answer makes reachable (`allowlist` mode); the answer the
        /// sandbox gets is cut to them, so it never gets an address it cannot reach.
        var learnedPerAnswer = 32
        /// The largest UDP answer sent to a client that offers more than 512 bytes with EDNS.
        var udpAnswerLimit = 4096
    }

    let limits: Limits
    private let clients: any ResolverClients
    private let group: any EventLoopGroup
    private let logger: Logger
    private let queries: DNSAdmission
    private let connections: DNSAdmission
    private let learning = DNSLearnGate()

    private struct State {
        var upstream: DNSUpstreamClient?
        var channels: [any Channel] = []
    }

    private let state = Mutex(State())

    /// `upstreams` empty: the host's own resolvers, read from `/etc/resolv.conf` at `start`.
    init(
        clients: any ResolverClients, upstreams: [DNSUpstream], limits: Limits = Limits(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger
    ) {
        self.clients = clients
        self.limits = limits
        self.group = group
        self.logger = logger
        self.queries = DNSAdmission(perKey: limits.queriesPerSandbox, total: limits.queriesTotal)
        self.connections = DNSAdmission(perKey: limits.connectionsPerSource, total: limits.connectionsTotal)
        if !upstreams.isEmpty {
            state.withLock { $0.upstream = DNSUpstreamClient(upstreams: upstreams, group: group, timeout: limits.upstreamTimeout) }
        }
    }

    /// Listens on `address` (4 or 16 bytes), UDP and TCP, on `port` (53; 0 picks a free port,
    /// for tests). Answers the port it listens on. The address must exist on the host already.
    func start(address: [UInt8], port: Int = 53) async throws -> Int {
        if state.withLock({ $0.upstream == nil }) {
            // One small file, read once, on the thread pool (never on the cooperative pool).
            let host = try await NIOThreadPool.singleton.runIfActive { DNSUpstream.hostResolvers() }
            if host.isEmpty { logger.warning("dns: no nameserver in /etc/resolv.conf; sandboxes' names will not resolve") }
            state.withLock { $0.upstream = DNSUpstreamClient(upstreams: host, group: group, timeout: limits.upstreamTimeout) }
        }
        guard let block = AddressBlock(bytes: address, prefix: address.count * 8) else {
            throw ChannelError.badInterfaceAddressFamily
        }
        let host = block.description
        var attempts = 0
        while true {
            attempts += 1
            // No SO_REUSEADDR on the UDP socket: on Linux it lets another socket with it bind
            // the same address and port, and take the sandboxes' queries.
            let datagram = try await DatagramBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(DNSDatagramHandler(resolver: self))
                    }
                }
                .bind(host: host, port: port).get()
            let bound = datagram.localAddress?.port ?? port
            do {
                let stream = try await streamBootstrap().bind(host: host, port: bound).get()
                state.withLock { $0.channels += [datagram, stream] }
                logger.info("dns: resolver listening on \(host) port \(bound), udp and tcp")
                return bound
            } catch {
                try? await datagram.close()
                // Port 0: the free UDP port may be taken for TCP; another try picks another.
                guard port == 0, attempts < 5 else { throw error }
            }
        }
    }

    /// `start`, for a caller that is not async (the network's start, at host start): it waits
    /// on NIO's futures, which complete on the event loops, never on the cooperative pool.
    /// Port 53 only (no retry for a free port).
    func startBlocking(address: [UInt8], port: Int = 53) throws {
        if state.withLock({ $0.upstream == nil }) {
            let host = DNSUpstream.hostResolvers()
            if host.isEmpty { logger.warning("dns: no nameserver in /etc/resolv.conf; sandboxes' names will not resolve") }
            state.withLock { $0.upstream = DNSUpstreamClient(upstreams: host, group: group, timeout: limits.upstreamTimeout) }
        }
        guard let block = AddressBlock(bytes: address, prefix: address.count * 8) else {
            throw ChannelError.badInterfaceAddressFamily
        }
        let host = block.description
        let datagram = try DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DNSDatagramHandler(resolver: self))
                }
            }
            .bind(host: host, port: port).wait()
        do {
            let stream = try streamBootstrap().bind(host: host, port: port).wait()
            state.withLock { $0.channels += [datagram, stream] }
            logger.info("dns: resolver listening on \(host) port \(port), udp and tcp")
        } catch {
            try? datagram.close().wait()
            throw error
        }
    }

    /// `stop`, for a caller that is not async.
    func stopBlocking() {
        let channels = state.withLock { state in
            defer { state.channels = [] }
            return state.channels
        }
        for channel in channels { try? channel.close().wait() }
    }

    /// Stops listening; queries in flight finish, their answers go nowhere.
    func stop() async {
        let channels = state.withLock { state in
            defer { state.channels = [] }
            return state.channels
        }
        for channel in channels { try? await channel.close() }
    }

    /// Queries in flight now (for a sandbox, or in all), and the most ever at once.
    func queriesInFlight(_ sandboxID: String? = nil) -> Int { queries.count(sandboxID) }
    var peakQueriesInFlight: Int { queries.peak }
    /// TCP connections open now (admitted ones), and the most ever at once.
    var connectionsOpen: Int { connections.count() }
    var peakConnectionsOpen: Int { connections.peak }

    private func streamBootstrap() -> ServerBootstrap {
        let idle = limits.idleTimeout
        return ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 128)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let decoder = ByteToMessageHandler(DNSFrameDecoder(), maximumBufferSize: DNSFrameDecoder.maximumBufferSize)
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: idle))
                    try channel.pipeline.syncOperations.addHandler(decoder)
                    try channel.pipeline.syncOperations.addHandler(DNSStreamHandler(resolver: self))
                }
            }
    }

    // MARK: - Called by the handlers, on their event loops

    /// The connection's key when `source` is a sandbox with room for one more connection; the
    /// caller then calls `releaseConnection` once.
    func admitConnection(from source: SocketAddress) -> String? {
        guard let address = Self.addressBytes(source), let client = clients.client(at: address),
              client.policy.mode != .none
        else { return nil }
        let key = address.map(String.init).joined(separator: ".")
        return connections.enter(key) ? key : nil
    }

    func releaseConnection(_ key: String) {
        connections.leave(key)
    }

    /// Takes one message from `source`. False: dropped now (not a sandbox, `none` mode, not a
    /// query, or over the limits), and `reply` is never called. True: `reply` is called once,
    /// later, with the answer, or nil when there is none to send.
    @discardableResult
    func receive(_ bytes: [UInt8], from source: SocketAddress, overTCP: Bool, reply: @escaping @Sendable ([UInt8]?) -> Void) -> Bool {
        guard let address = Self.addressBytes(source), let client = clients.client(at: address),
              client.policy.mode != .none, let id = DNSMessage.queryID(of: bytes),
              queries.enter(client.sandboxID)
        else { return false }
        Task {
            let answer = await self.answer(bytes, id: id, sandboxID: client.sandboxID, policy: client.policy, overTCP: overTCP)
            reply(answer)
            self.queries.leave(client.sandboxID)
        }
        return true
    }

    // MARK: - Answering

    private func answer(_ bytes: [UInt8], id: UInt16, sandboxID: String, policy: NetworkPolicy, overTCP: Bool) async -> [UInt8]? {
        guard let query = DNSMessage(parsing: bytes) else {
            return DNSMessage.reply(id: id, recursionDesired: false, question: nil, code: .formatError)
        }
        let rd = query.recursionDesired
        guard query.opcode == 0 else {
            return DNSMessage.reply(id: id, recursionDesired: rd, question: query.question, code: .notImplemented)
        }
        guard let question = query.question else {
            return DNSMessage.reply(id: id, recursionDesired: rd, question: nil, code: .formatError)
        }
        switch DNSVerdict(policy: policy, name: question.name) {
        case .drop:
            return nil
        case .nameError:
            logger.debug("dns: \(sandboxID) asked \(question.name): not allowed, NXDOMAIN")
            return DNSMessage.reply(id: id, recursionDesired: rd, question: question, code: .nameError)
        case .forward(let learn):
            guard let upstream = state.withLock({ $0.upstream }),
                  let (upstreamBytes, message) = await upstream.resolve(question, edns: query.ednsPayloadSize != nil, overTCP: overTCP)
            else {
                return DNSMessage.reply(id: id, recursionDesired: rd, question: question, code: .serverFailure)
            }
            var answer = upstreamBytes
            if learn, message.responseCode == DNSMessage.ResponseCode.noError.rawValue {
                guard await permit(message, for: question.name, in: &answer, sandboxID: sandboxID) else {
                    return DNSMessage.reply(id: id, recursionDesired: rd, question: question, code: .serverFailure)
                }
            }
            answer[0] = UInt8(id >> 8)
            answer[1] = UInt8(id & 0xFF)
            if !overTCP, answer.count > udpLimit(of: query) {
                return DNSMessage.reply(id: id, recursionDesired: rd, question: question, code: .noError, truncated: true)
            }
            return answer
        }
    }

    /// `allowlist` mode: the answer's A and AAAA addresses (the first `learnedPerAnswer` of them)
    /// become reachable for their TTL (the smallest of them, within `ttlRange`), and no TTL in
    /// the answer says more than the range's top. An answer with more addresses is cut before the
    /// first one past the limit (the bytes kept are a prefix of the message, so every compression
    /// pointer in them still points inside them; the authority and additional sections go).
    /// False when the filter refused them: then the sandbox gets SERVFAIL, not addresses it
    /// cannot reach.
    private func permit(_ message: DNSMessage, for name: DNSName, in answer: inout [UInt8], sandboxID: String) async -> Bool {
        var kept = message.answers
        let addressed = kept.indices.filter { kept[$0].address != nil }
        if addressed.count > limits.learnedPerAnswer {
            let cut = addressed[limits.learnedPerAnswer]
            answer.removeSubrange(kept[cut].offset...)
            kept.removeSubrange(cut...)
            answer[6] = UInt8(kept.count >> 8)
            answer[7] = UInt8(kept.count & 0xFF)
            for index in 8..<12 { answer[index] = 0 }
        }
        let records = kept.filter { $0.address != nil }
        if !records.isEmpty {
            let ttl = records.map { Int($0.ttl) }.min() ?? limits.ttlRange.lowerBound
            let clamped = min(max(ttl, limits.ttlRange.lowerBound), limits.ttlRange.upperBound)
            let blocks = records.compactMap { record in record.address.flatMap { AddressBlock(bytes: $0, prefix: $0.count * 8) } }
            do {
                // One at a time per sandbox: its 64 queries in flight wait here, not in 64
                // filter calls all waiting for the filter's one lock.
                try await learning.run(sandboxID) {
                    try await clients.allow(sandboxID: sandboxID, name: name, addresses: blocks, ttlSeconds: clamped)
                }
            } catch {
                logger.error("dns: could not open \(blocks.count) addresses for \(sandboxID): \(error)")
                return false
            }
        }
        let ceiling = UInt32(limits.ttlRange.upperBound)
        for record in kept where record.ttl > ceiling {
            answer[record.ttlOffset] = UInt8(ceiling >> 24)
            answer[record.ttlOffset + 1] = UInt8((ceiling >> 16) & 0xFF)
            answer[record.ttlOffset + 2] = UInt8((ceiling >> 8) & 0xFF)
            answer[record.ttlOffset + 3] = UInt8(ceiling & 0xFF)
        }
        return true
    }

    /// What a UDP answer to `query` may weigh: 512 bytes, or what its EDNS record offers.
    private func udpLimit(of query: DNSMessage) -> Int {
        guard let offered = query.ednsPayloadSize else { return DNSMessage.classicUDPLimit }
        return min(max(offered, DNSMessage.classicUDPLimit), limits.udpAnswerLimit)
    }

    /// An IPv4 source's 4 bytes (sandboxes have IPv4 only).
    private static func addressBytes(_ address: SocketAddress) -> [UInt8]? {
        guard case .v4(let v4) = address else { return nil }
        return withUnsafeBytes(of: v4.address.sin_addr.s_addr) { Array($0) }
    }
}
