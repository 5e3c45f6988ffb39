/// What one sandbox uses now, read from its cgroups, its project's volume and the host end of its
/// network link (`SandboxRuntime.usage`). Counters (CPU time, network bytes) count from the
/// sandbox's last start: its cgroups and its link are made anew at each start.
///
/// A stopped sandbox has no cgroups: CPU, memory and pids are 0 (its limits are its record's),
/// network 0; its disk is still read, since its files stay on its volume.
public struct SandboxUsage: Sendable, Equatable {
    /// Whether its PID 1 was alive when the figures were read.
    public var running: Bool
    /// CPU time of every process in the sandbox since it started (cpuacct.usage, or v2 cpu.stat
    /// usage_usec), in nanoseconds.
    public var cpuNanoseconds: UInt64
    /// Memory charged to the sandbox less the inactive file cache the kernel reclaims first (as
    /// `docker stats` counts it).
    public var memoryBytes: Int64
    public var memoryLimitBytes: Int64
    public var pids: Int
    public var pidsLimit: Int
    /// Bytes in use on the project's volume (its workspace and the sandbox's writable layers);
    /// 0 when projects have no volume of their own (`SANDBOX_HOST_DISK_IMAGES=0`).
    public var diskBytes: Int64
    public var diskLimitBytes: Int64
    /// Bytes the sandbox received and sent on its link; 0 without networking.
    public var networkReceivedBytes: Int64
    public var networkSentBytes: Int64
    /// When the figures were read: Unix milliseconds, and monotonic seconds (for rates).
    public var timestamp: Int64
    public var monotonicSeconds: Double

    public init(
        running: Bool, cpuNanoseconds: UInt64 = 0, memoryBytes: Int64 = 0, memoryLimitBytes: Int64 = 0, pids: Int = 0,
        pidsLimit: Int = 0, diskBytes: Int64 = 0, diskLimitBytes: Int64 = 0, networkReceivedBytes: Int64 = 0,
        networkSentBytes: Int64 = 0, timestamp: Int64 = Timestamp.milliseconds(), monotonicSeconds: Double = MonotonicClock.seconds()
    ) {
        self.running = running
        self.cpuNanoseconds = cpuNanoseconds
        self.memoryBytes = memoryBytes
        self.memoryLimitBytes = memoryLimitBytes
        self.pids = pids
        self.pidsLimit = pidsLimit
        self.diskBytes = diskBytes
        self.diskLimitBytes = diskLimitBytes
        self.networkReceivedBytes = networkReceivedBytes
        self.networkSentBytes = networkSentBytes
        self.timestamp = timestamp
        self.monotonicSeconds = monotonicSeconds
    }
}
