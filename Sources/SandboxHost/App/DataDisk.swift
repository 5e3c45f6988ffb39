#if canImport(Glibc)
import Glibc
#endif

/// The host's own data disk: free space, and the reserve below which writes are refused.
enum DataDisk {
    /// Bytes an unprivileged writer could still use on the file system holding `path`.
    static func freeBytes(_ path: String) -> Int64? {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { return nil }
        return Int64(stats.f_bavail) * Int64(stats.f_frsize)
    }

    /// Throws 507 `INSUFFICIENT_STORAGE` when the data directory has less than the configured
    /// reserve free: the sparse disk images of every project share this disk, and it must not
    /// fill up under the database. Blocking (statvfs): call on the thread pool.
    static func checkReserve(_ configuration: HostConfiguration) throws {
        guard configuration.diskReserveBytes > 0, let free = freeBytes(configuration.dataDir) else { return }
        guard free >= configuration.diskReserveBytes else {
            throw HostError(.insufficientStorage, "the host is low on disk space; try again later")
        }
    }
}
