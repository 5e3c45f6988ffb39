import MCP
import SandboxRuntime

/// start_dev_server and get_preview_url: the Dev servers and previews routes.
extension MCPToolbox {
    struct DevServerStarted: Encodable, Sendable {
        let status = "starting"
        let session_name: String
        let command: String
        @NullEncoded var port: Int?
        let detected: Bool
        let message: String
    }

    /// `POST …/dev-server/start` in the default session (one already there is restarted).
    func startDevServer(_ arguments: MCPArguments, _ caller: Caller) async throws -> CallTool.Result {
        let record = try await ownedSandbox(arguments, caller)
        let port = try arguments.int("port")
        if let port, !(1...65535).contains(port) { throw HostError(.unprocessable, "argument 'port' must be from 1 to 65535") }
        let command = try arguments.string("command")
        let session = DevServerLauncher.defaultSession
        let launched = try await services.launcher.start(record, command: command, port: port, session: session)
        let message = "started `\(launched.command)`" + (launched.detected ? " (chosen from the project)" : "")
            + "; once it listens, get_preview_url with its port gives the URL"
        return try MCPToolResult.success(DevServerStarted(
            session_name: session, command: launched.command, port: port, detected: launched.detected, message: message))
    }

    struct Preview: Encodable, Sendable {
        @NullEncoded var preview_url: String?
        @NullEncoded var path_url: String?
        let port: Int
        let status: String
    }

    /// `GET …/preview-url?port=`: `available` only when something listens on the port.
    func previewURL(_ arguments: MCPArguments, _ caller: Caller) async throws -> CallTool.Result {
        let record = try await ownedSandbox(arguments, caller)
        guard let port = try arguments.int("port"), (1...65535).contains(port) else {
            throw HostError(.unprocessable, "argument 'port' must be from 1 to 65535")
        }
        guard await services.runtime.listeningPorts(record.id).contains(port) else {
            return try MCPToolResult.success(Preview(preview_url: nil, path_url: nil, port: port, status: "dev_server_not_running"))
        }
        let links = PreviewLinks(authority: caller.authority, configuration: services.configuration)
        let token = try await services.sandboxes.previewToken(id: record.id)
        return try MCPToolResult.success(Preview(
            preview_url: links.hostURL(sandboxID: record.id, port: port, token: token),
            path_url: links.pathURL(sandboxID: record.id, port: port, token: token), port: port, status: "available"))
    }
}
