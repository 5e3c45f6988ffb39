import SandboxRuntime

/// Reads what sandboxes use now (cgroups, volume, link counters), off the cooperative pool.
protocol SandboxUsageReading: Sendable {
    /// The figures of each record, in order.
    func usage(_ records: [SandboxRecord]) async throws -> [SandboxUsage]
    /// The sandboxes whose PID 1 is alive.
    func runningSandboxIDs() async -> [String]
}

extension SandboxRuntime: SandboxUsageReading {}
