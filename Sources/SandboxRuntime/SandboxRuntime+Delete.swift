import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Deleting a sandbox, and closing a project for its delete.
///
/// A delete marks the sandbox (`deleting`) before anything else: from then on `process(for:)`
/// answers 404, so neither `execute`, a session, an idle restart nor `ensureActive` starts it
/// again. It then stops it (a start in flight is waited for, then killed), checks that nothing of
/// it runs (its cgroups empty and gone), removes its directory by descriptor on a thread of its
/// own (`SandboxPaths.remove`, `TreeRemover`), and deletes its row. After that `start` finds no
/// row and refuses a request that still holds the record.
extension SandboxRuntime {
    /// Deletes a sandbox: stops it, removes its root filesystem and its row. The project's
    /// workspace stays with the project. Concurrent deletes of one sandbox share the work.
    public func delete(_ record: SandboxRecord) async throws {
        if let pending = deleting[record.id] { return try await pending.value }
        let task = Task {
            // Unmarked by the task itself, before anyone waiting on it resumes: a waiter never
            // finds the finished delete still marked.
            defer { self.deleting[record.id] = nil }
            try await self.remove(record)
        }
        deleting[record.id] = task
        try await task.value
    }

    private func remove(_ record: SandboxRecord) async throws {
        try await stop(record.id)
        let closed = sessions.withLock { $0.removeValue(forKey: record.id) } ?? [:]
        closed.values.forEach { $0.close() }
        let paths = SandboxPaths(dataDir: configuration.dataDir, sandboxID: record.id)
        let layers = SandboxPaths(directory: workspaces.layersPath(projectID: record.projectID))
        let cgroups = self.cgroups
        try await DedicatedThread.run("remove sandbox") {
            try Self.ensureNothingRuns(record.id, cgroups: cgroups)
            try paths.remove()
            // The layers go; their directory on the project's volume stays, ready for the
            // project's next sandbox.
            try layers.remove()
            mkdir(layers.directory, 0o700)
        }
        try await store.deleteSandbox(id: record.id)
        networkPolicies[record.id] = nil
    }

    /// Makes sure no process of the sandbox is left before its layers are removed: its cgroups
    /// are gone (the stop removed them), or are emptied and removed again here.
    nonisolated static func ensureNothingRuns(_ sandboxID: String, cgroups: CgroupManager) throws {
        func present() -> [String] { cgroups.sandboxDirectories(sandboxID).filter { access($0, F_OK) == 0 } }
        for _ in 0..<3 where !present().isEmpty { cgroups.remove(sandboxID) }
        let busy = present().contains { directory in
            let children = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
                .map { directory + "/" + $0 }.filter { SystemFile.exists($0 + "/cgroup.procs") }
            return ([directory] + children).contains { !CgroupManager.processes(in: $0).isEmpty }
        }
        if busy {
            throw RuntimeError.internalError("the sandbox's processes did not end; its files are kept until a delete succeeds")
        }
    }

    /// Runs `body` (a project's delete) with the project closed: `ensureActive` refuses it with a
    /// 404 meanwhile, and concurrent calls for one project run one after the other (the second
    /// then finds the project gone).
    public func whileClosed<T: Sendable>(project projectID: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        while let pending = closingProjects[projectID] { await pending.value }
        let task = Task {
            // Reopened by the task itself, on the actor, before anyone waiting on it resumes: a
            // waiter that found the entry of a finished delete would otherwise await it again
            // without ever giving the actor up (awaiting a finished task does not suspend).
            defer { self.closingProjects[projectID] = nil }
            return try await body()
        }
        closingProjects[projectID] = Task { _ = await task.result }
        return try await task.value
    }

    func refuseIfClosing(_ projectID: String) throws {
        if closingProjects[projectID] != nil { throw RuntimeError.notFound("project") }
    }

    func refuseIfDeleting(_ sandboxID: String) throws {
        if deleting[sandboxID] != nil { throw RuntimeError.notFound("sandbox") }
    }
}
