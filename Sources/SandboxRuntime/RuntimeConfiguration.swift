/// What the runtime is told by the host that composes it (built from `HostConfiguration`).
public struct RuntimeConfiguration: Sendable {
    public var dataDir: String
    public var helperPath: String
    public var defaultLimits = SandboxLimits()
    /// Stop a sandbox after this long with no API activity and nothing running.
    public var idleTimeout: Duration = .seconds(30 * 60)
    /// Per stream, for blocking commands.
    public var outputCap = 1 << 20
    /// What a session's log keeps on disk, in bytes: the last output beyond it is dropped.
    public var sessionLogBytes = 64 << 20
    /// The policy of a sandbox whose project set none (`SANDBOX_HOST_NETWORK_DEFAULT`).
    public var defaultNetworkPolicy = NetworkPolicy.open
    /// Told the duration of each start and blocking command (the host's metrics); nil: nobody.
    public var timings: (any RuntimeTimings)?

    public init(dataDir: String, helperPath: String) {
        self.dataDir = dataDir
        self.helperPath = helperPath
    }
}
