import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore

/// The Hummingbird application: router, bind address, connection limits, and the line that
/// tells a person where it listens.
public enum HostApplication {
    public static func build(services: HostServices, logger: Logger) -> some ApplicationProtocol {
        let configuration = services.configuration
        let limits = configuration.connectionLimits
        let admission = ConnectionAdmission(maxPerAddress: limits.maxPerAddress)
        // The idle timeout closes a keep-alive with nothing in flight and a request whose body
        // stalls; Hummingbird's handler never cuts a response being written (SSE streams).
        let http1 = HTTP1Channel.Configuration(idleTimeout: TimeAmount(limits.idleTimeout))
        // WebSocket upgrades: a terminal's (`/api/sandboxes/{id}/pty/{pty_id}/ws`, refused with
        // the contract's 401/404 itself), else a preview's (a dev server's hot reload).
        // Frames up to 16 MiB (a dev server's hot-reload payloads can be large); a refused
        // preview upgrade (not a preview, no access, the app said no) is answered 400 by the library.
        let channelConfiguration = HTTP1WebSocketUpgradeChannel.Configuration(http1: http1, ws: .init(maxFrameSize: 1 << 24))
        let server = HTTPServerBuilder { responder in
            GuardedServerChannel(
                inner: HTTP1WebSocketUpgradeChannel(responder: responder, configuration: channelConfiguration) { request, channel, logger in
                    if let terminal = await TerminalWebSocket.shouldUpgrade(request, channel: channel, services: services, logger: logger) {
                        return terminal
                    }
                    return await PreviewWebSocket.shouldUpgrade(request, services: services, logger: logger)
                },
                admission: admission, headerTimeout: TimeAmount(limits.headerTimeout))
        }
        return Application(
            router: HostRouter.build(services: services),
            server: server,
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: "sandbox-host",
                availableConnectionsDelegate: MaximumAvailableConnections(limits.maxConnections, logger: logger)),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                Console.line("sandbox-host listening on http://\(configuration.host):\(port)")
            },
            logger: logger)
    }
}
