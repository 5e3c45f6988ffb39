import CSandbox
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension SandboxRuntime {
    /// Starts `request` on a new pseudo-terminal of the sandbox's own devpts (starting the sandbox
    /// if it is stopped). PID 1 makes the terminal, starts the process in its own session and
    /// cgroup with the terminal as its controlling one, and hands the master to the host.
    ///
    /// `output` gets what the process writes, on the poller's thread (see `Terminal`). While the
    /// process runs the sandbox counts as busy (the idle sweep leaves it running). When it exits
    /// (or the sandbox stops), its output is drained for a moment, the master closed, and
    /// `Terminal.waitExit` answers.
    public nonisolated func openTerminal(
        _ record: SandboxRecord, _ request: TerminalRequest, output: @escaping Terminal.Output
    ) async throws -> Terminal {
        touch(record.id, busy: 1)
        var opened = false
        defer { if !opened { touch(record.id, busy: -1) } }
        let terminal: Terminal
        do {
            terminal = try await openTerminal(record, request, process: try await process(for: record), output: output)
        } catch let error as RuntimeError where error.code == .sandboxUnavailable {
            // Stopped between lookup and spawn (idle sweep, a stop racing): start it once more.
            terminal = try await openTerminal(record, request, process: try await process(for: record), output: output)
        }
        opened = true
        return terminal
    }

    private nonisolated func openTerminal(
        _ record: SandboxRecord, _ request: TerminalRequest, process: SandboxProcess, output: @escaping Terminal.Output
    ) async throws -> Terminal {
        let id = process.nextCommandID()
        let cgroupFD = try commandGroup(record, id: id, process: process, for: "terminal")
        let environment = Self.baseEnvironment(uid: request.uid).merging(request.environment) { $1 }
            .map { "\($0.key)=\($0.value)" }.sorted()
        let spawned: (pid: Int32, master: Int32)
        do {
            spawned = try await process.spawnTerminal(
                id: id, command: request.commandLine, cwd: request.cwd, environment: environment, uid: request.uid,
                gid: request.uid, size: (request.size.columns, request.size.rows), cgroupFD: cgroupFD)
        } catch {
            if let cgroupFD { close(cgroupFD) }
            await killCommandGroup(record.id, command: id)
            throw error
        }
        if let cgroupFD { close(cgroupFD) }
        let sandboxID = record.id
        let terminal: Terminal
        do {
            terminal = try Terminal(
                sandboxID: sandboxID, pid: spawned.pid, commandID: id, master: spawned.master, size: request.size, poller: poller,
                output: output, killGroup: { [self] in await self.killCommandGroup(sandboxID, command: id) })
        } catch {
            close(spawned.master)
            await killCommandGroup(record.id, command: id)
            throw RuntimeError.internalError("cannot watch the terminal", cause: error)
        }
        let cgroups = self.cgroups
        Task {
            let status = await process.waitExit(id: id)
            await terminal.finish(exitCode: Self.exitCode(status), grace: .milliseconds(200))
            cgroups.releaseCommandGroup(sandboxID, command: id)
            self.touch(sandboxID, busy: -1)
        }
        return terminal
    }
}
