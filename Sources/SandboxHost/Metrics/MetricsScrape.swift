import Prometheus
import SandboxRuntime

/// One `/metrics` answer: the process's metrics (`HostMetrics`) followed by gauges read now —
/// sandboxes by state, agent runs by status (the database, on its thread), and CPU time, memory,
/// pids and disk of each running sandbox (its cgroups and volume, on a thread of its own).
///
/// The gauges go into a registry made for this scrape only, so a sandbox that stopped since the
/// last scrape has no series left: the per-sandbox series are bounded by the sandboxes running.
struct MetricsScrape: Sendable {
    let metrics: HostMetrics
    let store: any MetricsCounting
    let runtime: any SandboxUsageReading

    static let agentRunStatuses = ["running", "completed", "failed", "stopped"]

    func render() async throws -> [UInt8] {
        async let counts = store.counts()
        let running = await runtime.runningSandboxIDs()
        let records = try await store.sandboxes(ids: running)
        let usages = try await runtime.usage(records)
        let counted = try await counts
        let (sandboxes, agentRuns) = (counted.sandboxes, counted.agentRuns)

        let scrape = PrometheusCollectorRegistry()
        let byState = MetricNameDescriptor(
            namespace: "sandbox_host", metricName: "sandboxes", unitName: "", helpText: "Sandboxes by state.")
        scrape.makeGauge(descriptor: byState, labels: [("state", "running")]).set(Double(running.count))
        scrape.makeGauge(descriptor: byState, labels: [("state", "stopped")]).set(Double(max(0, sandboxes - running.count)))

        let runs = MetricNameDescriptor(
            namespace: "sandbox_host", metricName: "agent_runs", unitName: "", helpText: "Agent runs by status.")
        for status in Set(Self.agentRunStatuses).union(agentRuns.keys).sorted() {
            scrape.makeGauge(descriptor: runs, labels: [("status", status)]).set(Double(agentRuns[status] ?? 0))
        }

        let cpu = Self.sandboxGauge("cpu", "seconds", "CPU time of a running sandbox since it started.")
        let memory = Self.sandboxGauge("memory", "bytes", "Memory of a running sandbox, less its inactive file cache.")
        let pids = Self.sandboxGauge("pids", "", "Processes (and threads) of a running sandbox.")
        let disk = Self.sandboxGauge("disk", "bytes", "Bytes in use on a running sandbox's volume.")
        for (record, usage) in zip(records, usages) where usage.running {
            let labels = [("sandbox_id", record.id)]
            scrape.makeGauge(descriptor: cpu, labels: labels).set(Double(usage.cpuNanoseconds) / 1e9)
            scrape.makeGauge(descriptor: memory, labels: labels).set(Double(usage.memoryBytes))
            scrape.makeGauge(descriptor: pids, labels: labels).set(Double(usage.pids))
            scrape.makeGauge(descriptor: disk, labels: labels).set(Double(usage.diskBytes))
        }

        var buffer: [UInt8] = []
        buffer.reserveCapacity(32 << 10)
        metrics.registry.emit(into: &buffer)
        scrape.emit(into: &buffer)
        return buffer
    }

    private static func sandboxGauge(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "sandbox_host", subsystem: "sandbox", metricName: name, unitName: unit, helpText: help)
    }
}
