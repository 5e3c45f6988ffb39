import FileAPI
import Foundation
import NIOPosix
import SandboxRuntime

/// Starts a sandbox's dev server in a session — the given command, or one chosen from the
/// project — restarting one already running there. The HTTP route and the agent's
/// `start_dev_server` tool both use it.
struct DevServerLauncher: Sendable {
    let runtime: SandboxRuntime
    let workspaces: WorkspaceStore
    let registry: DevServerRegistry
    /// The session a dev server runs in unless the caller names one (the HTTP routes and the
    /// agent's `start_dev_server` tool).
    static let defaultSession = "dev_server_web"

    struct Launched: Sendable {
        let command: String
        let commandID: String
        let detected: Bool
    }

    func start(_ record: SandboxRecord, command requested: String?, port: Int?, session: String) async throws -> Launched {
        var command = requested?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let detected = command.isEmpty
        if detected {
            let path = workspaces.path(projectID: record.projectID)
            guard let found = try await NIOThreadPool.singleton.runIfActive({ DevServerCommand.detect(in: try WorkspaceRoot(path: path), port: port) }) else {
                throw HostError(.unprocessable, "no dev server found in the project (no package.json dev/start script, manage.py, app.py or index.html): pass 'command'")
            }
            command = found
        }
        guard !command.utf8.contains(0) else { throw HostError(.unprocessable, "field 'command' contains a NUL byte") }
        // Opening a session reads its files: on the readers' pool, never the cooperative one.
        let runtime = self.runtime
        let existing = try await SessionReaders.pool.runIfActive { try runtime.session(record.id, named: session, create: false) }
        if existing?.isRunning == true {
            _ = try await runtime.killSession(record, named: session)
        }
        _ = try await runtime.ensureActive(projectID: record.projectID, image: record.image)
        let baseline = await runtime.listeningPorts(record.id)
        var exec = ExecRequest(command: command)
        exec.timeoutSeconds = 86_400
        if let port { exec.environment["PORT"] = String(port) }
        let commandID = try await runtime.startInSession(record, exec, sessionName: session)
        await registry.set(.init(commandID: commandID, command: command, port: port, baseline: baseline), sandboxID: record.id, session: session)
        return Launched(command: command, commandID: commandID, detected: detected)
    }
}
