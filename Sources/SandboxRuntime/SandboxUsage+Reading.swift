import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension SandboxUsage {
    /// One sandbox to read: its record, whether it runs, and the host end of its link (if any).
    struct Target: Sendable {
        let record: SandboxRecord
        let running: Bool
        let hostInterface: String?
    }

    /// Reads one sandbox's figures. Blocking (cgroupfs, statvfs, sysfs; each a small read of a
    /// kernel file, no walk): call on a thread of its own. Nothing here is a path a tenant controls:
    /// cgroup directories, the volume's mount point and the link's name are all the host's.
    static func read(_ target: Target, cgroups: CgroupManager, workspaces: WorkspaceStore) -> SandboxUsage {
        let limits = target.record.limits
        var usage = SandboxUsage(
            running: target.running, memoryLimitBytes: Int64(limits.memoryMB) << 20, pidsLimit: limits.pids,
            diskLimitBytes: Int64(limits.diskMB) << 20)
        if target.running { cgroups.readUsage(target.record.id, into: &usage) }
        if workspaces.usesDiskImages, let used = volumeUsedBytes(workspaces.volumePath(projectID: target.record.projectID), root: workspaces.root) {
            usage.diskBytes = used
        }
        if target.running, let interface = target.hostInterface {
            // The host end's counters are the sandbox's, mirrored: what the host end transmits,
            // the sandbox receives.
            let statistics = "/sys/class/net/\(interface)/statistics/"
            usage.networkReceivedBytes = CgroupManager.number(statistics + "tx_bytes") ?? 0
            usage.networkSentBytes = CgroupManager.number(statistics + "rx_bytes") ?? 0
        }
        return usage
    }

    /// Bytes in use on the file system mounted at `path` (the project's volume), or nil when
    /// nothing is mounted there (then statvfs would describe the host's own disk).
    static func volumeUsedBytes(_ path: String, root: String) -> Int64? {
        var volume = stat()
        var parent = stat()
        guard stat(path, &volume) == 0, stat(root, &parent) == 0, volume.st_dev != parent.st_dev else { return nil }
        var stats = statvfs()
        guard statvfs(path, &stats) == 0, stats.f_blocks >= stats.f_bfree else { return nil }
        return Int64(stats.f_blocks - stats.f_bfree) * Int64(stats.f_frsize)
    }
}
