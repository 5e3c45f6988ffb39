import SandboxRuntime

/// What a scrape reads from the store: counts, and the records of the running sandboxes.
protocol MetricsCounting: Sendable {
    func counts() async throws -> MetricsStore.Counts
    func sandboxes(ids: [String]) async throws -> [SandboxRecord]
}

extension MetricsStore: MetricsCounting {}
