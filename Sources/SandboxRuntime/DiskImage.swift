import CSandbox
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A project's disk image: a sparse file holding an ext4 file system of the project's disk
/// budget, with a number of inodes proportional to it.
///
/// Sparse: the host spends only what the sandbox writes (deletes give it back, the volume is
/// mounted with `discard`). mkfs writes only metadata: the inode tables and the journal are
/// left as the fresh file's holes (`lazy_itable_init`, `lazy_journal_init`), which read as
/// zeros, so they are as good as zeroed; the volume is mounted `noinit_itable`, so no lazy-init
/// thread writes them behind the mount. (Zeroing them made mkfs allocate 32 MiB of every 1 GiB
/// image as unwritten extents.)
struct DiskImage: Sendable {
    /// Size of the file system, in MiB.
    let megabytes: Int
    /// Inodes per MiB of the budget (the contract: "a proportional number of inodes").
    let inodesPerMegabyte: Int

    /// Below this, ext4's journal and metadata leave too little for a workspace.
    static let minimumMegabytes = 16

    var bytes: Int64 { Int64(max(megabytes, Self.minimumMegabytes)) << 20 }
    var inodes: Int { max(max(megabytes, Self.minimumMegabytes) * inodesPerMegabyte, 1024) }
    /// A journal of 1/64 of the disk, from ext4's minimum of 4 MiB to 64 MiB.
    var journalMegabytes: Int { min(max(max(megabytes, Self.minimumMegabytes) / 64, 4), 64) }

    /// posix_spawn (never fork) and waitpid: Foundation's `Process` polls for the exit on a run
    /// loop, which added tens of ms per image. Answers the wait status, or -1.
    static func run(_ arguments: [String]) -> Int32 {
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard null >= 0 else { return -1 }
        defer { close(null) }
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp: [UnsafeMutablePointer<CChar>?] = [strdup("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        guard csb_spawn_helper(arguments[0], argv, envp, null, -1, &pid) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { return -1 }
        }
        return status
    }

    static var mkfs: String {
        ["/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"].first { access($0, X_OK) == 0 } ?? "/usr/sbin/mkfs.ext4"
    }

    /// Makes the image at `path` (which must not exist); nothing is left there on failure.
    /// Blocking (mkfs runs for 5–20 ms): call from a thread of its own or the thread pool.
    func make(at path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw RuntimeFailure.system("create \(path)", errno) }
        let sized = ftruncate(fd, off_t(bytes)) == 0
        let code = errno
        close(fd)
        guard sized else {
            unlink(path)
            throw RuntimeFailure.system("truncate \(path)", code)
        }
        let arguments = [
            Self.mkfs, "-q", "-F", "-t", "ext4", "-b", "4096", "-m", "0", "-N", String(inodes), "-J", "size=\(journalMegabytes)",
            "-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard", path,
        ]
        let status = Self.run(arguments)
        guard status == 0 else {
            unlink(path)
            throw RuntimeError.internalError("mkfs.ext4 failed for a disk image (status \(status); is e2fsprogs installed?)")
        }
    }
}
