import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore

/// The Hummingbird application: router, bind address, and the line that tells a person where it listens.
public enum HostApplication {
    public static func build(services: HostServices, logger: Logger) -> some ApplicationProtocol {
        let configuration = services.configuration
        return Application(
            router: HostRouter.build(services: services),
            // WebSocket upgrades are only ever previews' (a dev server's hot reload).
            // Frames up to 16 MiB (a dev server's hot-reload payloads can be large); a refused
            // upgrade (not a preview, no access, the app said no) is answered 400 by the library.
            server: .http1WebSocketUpgrade(configuration: .init(ws: .init(maxFrameSize: 1 << 24))) { request, _, logger in
                await PreviewWebSocket.shouldUpgrade(request, services: services, logger: logger)
            },
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "sandbox-host"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                Console.line("sandbox-host listening on http://\(configuration.host):\(port)")
            },
            logger: logger)
    }
}
