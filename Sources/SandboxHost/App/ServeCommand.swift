import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOCore
import SandboxRuntime

/// `sandbox-host serve`: runs the HTTP server until SIGINT or SIGTERM.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the host's HTTP API.")

    @Option(help: "Address to listen on (env SANDBOX_HOST_HOST; default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on; 0 picks a free one (env SANDBOX_HOST_PORT; default 8000).")
    var port: Int?

    @OptionGroup var data: DataDirOption

    @Option(help: "Log level: trace, debug, info, notice, warning, error (env SANDBOX_HOST_LOG_LEVEL).")
    var logLevel: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var configuration = data.configuration()
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        do {
            try configuration.readNetworkEnvironment(environment)
        } catch let error as HostError {
            Console.line("sandbox-host: \(error.message)")
            throw ExitCode.failure
        }
        let level = (logLevel ?? environment["SANDBOX_HOST_LOG_LEVEL"]).flatMap(Logger.Level.init(rawValue:)) ?? .info
        var logger = Logger(label: "sandbox-host")
        logger.logLevel = level

        let opened = try DataDirectory.open(configuration)
        if let key = opened.newAdminKey {
            Console.line("Created user 'admin'. Its API key (also in \(configuration.adminKeyPath), mode 0600):")
            Console.line("  \(key)")
        } else {
            Console.line("Admin API key: see \(configuration.adminKeyPath) (or create one: sandbox-host keys create --user admin)")
        }
        let services = try HostServices(configuration: configuration, database: opened.database, environment: environment, logger: logger)
        let app = HostApplication.build(services: services, logger: logger)
        try await app.runService()
        await services.runtime.stopAll()
        // After the sandboxes: every link, namespace, rule and the resolver's address go.
        if let network = services.network { _ = try? await DedicatedThread.run("network stop") { network.stop() } }
        // Volumes come off with the host; the next start mounts them again (a killed host's
        // are found mounted and kept).
        services.workspaces.unmountVolumes()
        opened.database.close()
        logger.info("sandbox-host stopped")
    }
}

/// `--data-dir`, shared by every command that opens the database.
struct DataDirOption: ParsableArguments {
    @Option(help: "Directory for the database, keys and workspaces (env SANDBOX_HOST_DATA_DIR; default ./data).")
    var dataDir: String?

    func configuration() -> HostConfiguration {
        var configuration = HostConfiguration.fromEnvironment(ProcessInfo.processInfo.environment)
        if let dataDir { configuration.dataDir = dataDir }
        // Absolute from here on: sandbox-init opens paths under it after leaving the host's
        // working directory, so `make run`'s `./data` made every sandbox start fail at open-tree.
        configuration.dataDir = URL(fileURLWithPath: configuration.dataDir).standardizedFileURL.path
        return configuration
    }
}
