import CSandbox
import Foundation
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

extension SandboxRuntime {
    /// The environment every command starts with; the request's `env` is laid over it.
    static func baseEnvironment(uid: UInt32) -> [String: String] {
        [
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": uid == 0 ? "/root" : "/home/user",
            "USER": uid == 0 ? "root" : "user",
            "LOGNAME": uid == 0 ? "root" : "user",
            "SHELL": "/bin/bash",
            "LANG": "C.UTF-8",
            "TERM": "xterm-256color",
            "HOSTNAME": "sandbox",
        ]
    }

    /// Runs a command to completion (or its timeout) and answers its output and exit code.
    ///
    /// On timeout every process the command started is killed through its cgroup, including
    /// ones that detached with `setsid`, `nohup` or a double fork; the exit code is then 124.
    public nonisolated func execute(_ record: SandboxRecord, _ request: ExecRequest) async throws -> ExecResult {
        let started = MonotonicClock.seconds()
        // Busy before the process is looked up, so the idle sweep cannot stop it under us.
        touch(record.id, busy: 1)
        defer { touch(record.id, busy: -1) }
        do {
            return try await execute(record, request, process: try await process(for: record), started: started)
        } catch let error as RuntimeError where error.code == .sandboxUnavailable {
            // Stopped between lookup and spawn (idle sweep, delete racing): start it once more.
            return try await execute(record, request, process: try await process(for: record), started: started)
        }
    }

    /// Command `id`'s own cgroup, opened for it to join. The sandbox's cgroups go when it stops:
    /// then `sandboxUnavailable`, which callers answer by starting it once more.
    nonisolated func commandGroup(_ record: SandboxRecord, id: UInt32, process: SandboxProcess, for what: String) throws -> Int32? {
        do {
            return try cgroups.openCommandGroup(record.id, command: id)
        } catch {
            if !process.isAlive { throw RuntimeError(.sandboxUnavailable, "the sandbox stopped", cause: error) }
            throw RuntimeError.internalError("cannot create the \(what)'s cgroup", cause: error)
        }
    }

    /// Starts a command: its cgroup, its pipes (read by `collector`), the spawn. Answers its number.
    nonisolated func launch(
        _ record: SandboxRecord, _ request: ExecRequest, process: SandboxProcess, collector: OutputCollector
    ) async throws -> UInt32 {
        let id = process.nextCommandID()
        let cgroupFD = try commandGroup(record, id: id, process: process, for: "command")
        var stdoutPipe: [Int32] = [-1, -1], stderrPipe: [Int32] = [-1, -1]
        do {
            try syscallChecked("pipe2") { csb_pipe(&stdoutPipe) }
            try syscallChecked("pipe2") { csb_pipe(&stderrPipe) }
            try collector.attach(stdoutPipe[0], as: .stdout)
            stdoutPipe[0] = -1
            try collector.attach(stderrPipe[0], as: .stderr)
            stderrPipe[0] = -1
        } catch {
            for fd in stdoutPipe + stderrPipe + [cgroupFD ?? -1] where fd >= 0 { close(fd) }
            await killCommandGroup(record.id, command: id)
            throw RuntimeError.internalError("cannot create pipes", cause: error)
        }
        let environment = Self.baseEnvironment(uid: request.uid).merging(request.environment) { $1 }
            .map { "\($0.key)=\($0.value)" }.sorted()
        let spawnError: (any Error)?
        do {
            _ = try await process.spawn(
                id: id, command: request.command, cwd: request.cwd, environment: environment,
                uid: request.uid, gid: request.uid, stdout: stdoutPipe[1], stderr: stderrPipe[1], cgroupFD: cgroupFD)
            spawnError = nil
        } catch {
            spawnError = error
        }
        // The command holds its own copies now; ours must go, or the pipes never reach end of stream.
        close(stdoutPipe[1])
        close(stderrPipe[1])
        if let cgroupFD { close(cgroupFD) }
        if let spawnError {
            collector.detach()
            await killCommandGroup(record.id, command: id)
            throw spawnError
        }
        return id
    }

    private nonisolated func execute(
        _ record: SandboxRecord, _ request: ExecRequest, process: SandboxProcess, started: Double
    ) async throws -> ExecResult {
        let collector = OutputCollector(cap: configuration.outputCap, poller: poller)
        let id = try await launch(record, request, process: process, collector: collector)

        let timeout = Duration.milliseconds(Int64(request.timeoutSeconds * 1000))
        let cgroups = self.cgroups
        let sandboxID = record.id
        let (status, timedOut) = await withTaskGroup(of: Int32?.self) { group -> (Int32, Bool) in
            group.addTask { await process.waitExit(id: id) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            if let status = first {
                group.cancelAll()
                return (status, false)
            }
            // Runs even when the caller was cancelled (an agent run stopped): a dedicated
            // thread's work is not skipped for a cancelled task, so the command cannot live on.
            await self.killCommandGroup(sandboxID, command: id)
            var status: Int32 = SandboxProcess.killedStatus
            while let next = await group.next() {
                if let value = next { status = value }
            }
            return (status, true)
        }
        // A background process may keep the pipes open; give the last output a moment, then move on.
        await collector.waitClosed(grace: .milliseconds(timedOut ? 200 : 50))
        collector.detach()
        if !timedOut { cgroups.releaseCommandGroup(record.id, command: id) }
        touch(record.id)

        let snapshot = collector.snapshot
        let exitCode = timedOut ? 124 : Self.exitCode(status)
        let duration = MonotonicClock.seconds() - started
        configuration.timings?.commandFinished(seconds: duration, timedOut: timedOut)
        return ExecResult(
            output: String(decoding: snapshot.output, as: UTF8.self),
            stdout: String(decoding: snapshot.stdout, as: UTF8.self),
            stderr: String(decoding: snapshot.stderr, as: UTF8.self),
            exit_code: exitCode, success: exitCode == 0, timed_out: timedOut,
            duration_ms: Int(duration * 1000), blocking: true,
            truncated: snapshot.truncated)
    }

    /// Kills everything in a command's cgroup and removes it, on a thread of its own: the kill
    /// waits for the kernel (freeze, SIGKILL, until empty; up to seconds for a fork bomb), which
    /// must not hold a thread of the cooperative pool or the shared thread pool.
    nonisolated func killCommandGroup(_ sandboxID: String, command: UInt32) async {
        let cgroups = self.cgroups
        _ = try? await DedicatedThread.run("cgroup kill") { cgroups.killCommandGroup(sandboxID, command: command) }
    }

    /// A wait status as a shell reports it: the exit code, or 128 + the signal.
    static func exitCode(_ status: Int32) -> Int {
        let signal = status & 0x7f
        if signal == 0 { return Int((status >> 8) & 0xff) }
        return 128 + Int(signal)
    }
}
