extension SandboxRuntime {
    /// What each of `records` uses now (`SandboxUsage`), in the same order. The files are read
    /// on one thread of its own (`DedicatedThread`), never on the cooperative pool: a few small
    /// kernel files and one statvfs per sandbox.
    public func usage(_ records: [SandboxRecord]) async throws -> [SandboxUsage] {
        let targets = records.map { record in
            SandboxUsage.Target(
                record: record, running: isRunning(record.id), hostInterface: networking?.hostInterface(sandboxID: record.id))
        }
        guard !targets.isEmpty else { return [] }
        let (cgroups, workspaces) = (self.cgroups, self.workspaces)
        return try await DedicatedThread.run("sandbox usage") {
            targets.map { SandboxUsage.read($0, cgroups: cgroups, workspaces: workspaces) }
        }
    }

    /// The sandboxes whose PID 1 is alive now.
    public func runningSandboxIDs() -> [String] {
        runningIDs
    }
}
