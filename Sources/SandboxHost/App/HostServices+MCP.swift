import Logging
import SandboxRuntime

extension HostServices {
    /// The MCP sessions, their tools on the same services the HTTP controllers get.
    static func mcpSessions(
        _ configuration: HostConfiguration, projects: ProjectStore, workspaces: WorkspaceStore, sandboxes: SandboxStore,
        runtime: SandboxRuntime, devServers: DevServerRegistry, logger: Logger
    ) -> MCPSessions {
        let launcher = DevServerLauncher(runtime: runtime, workspaces: workspaces, registry: devServers)
        let toolbox = MCPToolbox(services: .init(
            projects: projects, images: runtime.images, workspaces: workspaces, sandboxes: sandboxes, runtime: runtime,
            launcher: launcher, configuration: configuration), logger: logger)
        return MCPSessions(
            toolbox: toolbox, maxSessions: configuration.mcpMaxSessions, idleTimeout: configuration.mcpSessionIdle,
            byteBudget: configuration.mcpSessionBytes, logger: logger)
    }
}
