import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A project's disk image: a sparse file holding an ext4 file system of the project's disk
/// budget, with a number of inodes proportional to it.
///
/// Sparse: the host spends only what the sandbox writes (deletes give it back, the volume is
/// mounted with `discard`). mkfs writes only metadata: the inode tables are "zeroed" by
/// punching holes, the journal is left as the fresh file's holes (`lazy_journal_init`), so no
/// lazy-init thread writes behind the mount.
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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.mkfs)
        process.arguments = [
            "-q", "-F", "-t", "ext4", "-b", "4096", "-m", "0", "-N", String(inodes), "-J", "size=\(journalMegabytes)",
            "-E", "lazy_itable_init=0,lazy_journal_init=1,nodiscard", path,
        ]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
            process.waitUntilExit()
        } catch {
            unlink(path)
            throw HostError.internalError("cannot run \(Self.mkfs) (install e2fsprogs)", cause: error)
        }
        guard process.terminationStatus == 0 else {
            unlink(path)
            throw HostError.internalError("mkfs.ext4 failed for a disk image (exit \(process.terminationStatus))")
        }
    }
}
