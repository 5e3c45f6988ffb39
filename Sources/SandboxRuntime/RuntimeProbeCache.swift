
/// The runtime probe's last answer, kept for `maxAge`. The probe clones every namespace kind and
/// runs on a thread of its own (never the shared thread pool, which file routes held by a slow
/// disk may fill); `/api/health/deep` answers without a key, so without this a flood of
/// anonymous calls would keep creating network namespaces. Concurrent callers share one probe
/// in flight, so there is at most one such thread.
public actor RuntimeProbeCache {
    public let maxAge: Duration
    private var last: (at: ContinuousClock.Instant, capabilities: [Capability])?
    private var inFlight: Task<[Capability], Never>?
    /// Probes run so far (for tests).
    private(set) var probes = 0

    public init(maxAge: Duration = .seconds(30)) {
        self.maxAge = maxAge
    }

    /// The cached answer while it is younger than `maxAge`, else a new probe (`fresh` forces one:
    /// the admin's view).
    public func capabilities(fresh: Bool = false) async -> [Capability] {
        if !fresh, let last, ContinuousClock.now - last.at < maxAge { return last.capabilities }
        if let inFlight { return await inFlight.value }
        let task = Task { (try? await DedicatedThread.run("runtime probe") { RuntimeProbe.run() }) ?? [] }
        inFlight = task
        probes += 1
        let capabilities = await task.value
        inFlight = nil
        last = (ContinuousClock.now, capabilities)
        return capabilities
    }
}
