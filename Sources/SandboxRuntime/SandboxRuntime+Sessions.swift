import Foundation
import NIOPosix

extension SandboxRuntime {
    /// Session names: what a person would type, safe as a file name.
    public static func validSessionName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.first != "."
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
    }

    nonisolated func sessionDirectory(_ sandboxID: String) -> String {
        configuration.dataDir + "/sandboxes/" + sandboxID + "/sessions"
    }

    /// The named session of a sandbox: in memory, or reopened from its directory after a host
    /// restart (`sessions/<name>/`: see `Session`).
    /// With `create`, a missing session is made; otherwise nil.
    /// Blocking (it may read the session's files): call it on `SessionReaders.pool`. Opening one
    /// session holds that session's lock only; the table's lock is never held across the disk,
    /// so a slow disk never holds up a lookup of another session (nor a delete on the actor).
    public nonisolated func session(_ sandboxID: String, named name: String, create: Bool) throws -> Session? {
        if let session = sessions.withLock({ $0[sandboxID]?[name] }) { return session }
        return try sessionOpening.withLock(sandboxID + "/" + name) { () -> Session? in
            if let session = sessions.withLock({ $0[sandboxID]?[name] }) { return session }
            let directory = sessionDirectory(sandboxID) + "/" + name
            let legacy = sessionDirectory(sandboxID) + "/" + name + ".jsonl"
            if !FileManager.default.fileExists(atPath: directory + "/commands"), SessionLegacyLog.exists(legacy) {
                try SessionLegacyLog.convert(legacy, into: directory, capacity: configuration.sessionLogBytes)
            }
            guard create || FileManager.default.fileExists(atPath: directory + "/commands") else { return nil }
            let session = try Session(name: name, directory: directory, capacity: configuration.sessionLogBytes)
            sessions.withLock { $0[sandboxID, default: [:]][name] = session }
            return session
        }
    }

    /// Every session the sandbox has had (their logs survive host restarts), oldest first.
    public nonisolated func listSessions(_ sandboxID: String) throws -> [Session] {
        let directory = sessionDirectory(sandboxID)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        // Directories, and logs of earlier versions (`<name>.jsonl`, converted when opened).
        let names = Set(entries.map { entry in
            entry.hasSuffix(".jsonl") && SessionLegacyLog.exists(directory + "/" + entry) ? String(entry.dropLast(6)) : entry
        }).filter(Self.validSessionName)
        return try names.compactMap { try session(sandboxID, named: $0, create: false) }.sorted { $0.createdAt < $1.createdAt }
    }

    /// Starts a command in a session and returns at once; its output and exit go to the session's log.
    public nonisolated func startInSession(_ record: SandboxRecord, _ request: ExecRequest, sessionName: String) async throws -> String {
        // Opening a session reads its files: off the cooperative pool.
        guard let session = try await SessionReaders.pool.runIfActive({ try self.session(record.id, named: sessionName, create: true) }) else {
            throw RuntimeError.internalError("cannot open session")
        }
        touch(record.id, busy: 1)
        var launched = false
        defer { if !launched { touch(record.id, busy: -1) } }
        let process = try await process(for: record)
        let commandID = UUID().uuidString.lowercased()
        let collector = OutputCollector(
            cap: 0, poller: poller, sink: { stream, bytes in session.output(id: commandID, stream: stream, bytes: bytes) },
            gate: OutputCollector.Gate(isFull: { session.isFull }, wait: { session.waitForRoom(resume: $0) }))
        let number = try await launch(record, request, process: process, collector: collector)
        launched = true
        session.started(id: commandID, command: request.command, number: number)
        let cgroups = self.cgroups
        Task {
            let status = await process.waitExit(id: number)
            await collector.waitClosed(grace: .milliseconds(100))
            session.exited(id: commandID, code: Self.exitCode(status))
            cgroups.releaseCommandGroup(record.id, command: number)
            self.touch(record.id, busy: -1)
        }
        return commandID
    }

    /// Kills everything the session's commands started (detached processes included).
    public nonisolated func killSession(_ record: SandboxRecord, named name: String) async throws -> Bool {
        // Opening reads the session's files: on the readers' pool, as list, status and stream do.
        guard let session = try await SessionReaders.pool.runIfActive({ try self.session(record.id, named: name, create: false) })
        else { return false }
        for command in session.commands where command.running {
            await killCommandGroup(record.id, command: command.number)
        }
        // Wait (briefly) for the exits to be logged, so status reads `exited` right after.
        for _ in 0..<100 where session.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        return true
    }
}
