/// Told how long the runtime's main jobs took, for the host's metrics (`RuntimeConfiguration.timings`).
/// Keeps the runtime free of any metrics library. Called inline on the path it times: it must
/// return at once (record and go; no I/O, no waiting).
public protocol RuntimeTimings: Sendable {
    /// A sandbox started (a cold start: volume, cgroups, network, sandbox-init until READY).
    func sandboxStarted(seconds: Double)
    /// A blocking command ended: exited, or killed at its timeout. `seconds` is what the
    /// response's `duration_ms` says (a start of the sandbox it needed included).
    func commandFinished(seconds: Double, timedOut: Bool)
}
