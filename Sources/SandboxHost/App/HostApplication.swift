import Foundation
import Hummingbird
import Logging
import NIOCore

/// The Hummingbird application: router, bind address, and the line that tells a person where it listens.
public enum HostApplication {
    public static func build(services: HostServices, logger: Logger) -> some ApplicationProtocol {
        let configuration = services.configuration
        return Application(
            router: HostRouter.build(services: services),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "sandbox-host"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                Console.line("sandbox-host listening on http://\(configuration.host):\(port)")
            },
            logger: logger)
    }
}
