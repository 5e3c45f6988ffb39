import CSandbox
#if canImport(Glibc)
import Glibc
#endif

/// Writes one file atomically and durably: the bytes go to an unnamed file (`O_TMPFILE`) in a
/// staging directory, are fsynced, and only then get a name in the workspace (`linkat`, or a
/// temp name and `renameat` over an existing file), after which the directory is fsynced. A
/// reader sees the old or the new file, never a part; a host killed midway leaves no file behind,
/// since an unnamed file vanishes with its last descriptor.
///
/// Not thread-safe (hence `@unchecked`): one writer per upload, driven by one task at a time.
public final class AtomicFileWriter: @unchecked Sendable {
    private let fd: FileDescriptor
    /// The staged file's descriptor.
    public var descriptor: Int32 { fd.raw }
    /// Bytes written so far.
    public private(set) var size: Int64 = 0
    private let maxBytes: Int64
    private let spaceLeft: Int64

    /// `maxBytes`: the request's limit (413 past it). `spaceLeft`: what the workspace's quota
    /// still allows (507 past it).
    /// `readable`: the content can be read back through `descriptor` (an archive upload is
    /// spooled this way, then read by the extractor; it is never committed).
    public init(stagingDirectory: String, maxBytes: Int64, spaceLeft: Int64 = .max, readable: Bool = false) throws {
        let raw = Glibc.open(stagingDirectory, csb_o_tmpfile() | (readable ? O_RDWR : O_WRONLY) | O_CLOEXEC, 0o600)
        guard raw >= 0 else {
            throw FileAPIError("cannot create a staging file", cause: FileSystemFailure(call: "open(O_TMPFILE)", code: errno))
        }
        fd = FileDescriptor(raw)
        self.maxBytes = maxBytes
        self.spaceLeft = spaceLeft
    }

    /// Appends `bytes`; throws `.tooLarge` or `.quotaExceeded` before writing past a limit.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        let next = size + Int64(bytes.count)
        guard next <= maxBytes else {
            throw FileAPIError("the upload is larger than the limit of \(maxBytes) bytes", kind: .tooLarge)
        }
        guard next <= spaceLeft else {
            throw FileAPIError("the workspace's disk quota would be exceeded", kind: .quotaExceeded)
        }
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(fd.raw, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                let code = errno
                throw FileAPIError(
                    code == ENOSPC || code == EDQUOT ? "the project's disk is full (its disk_mb budget)" : "cannot write the upload",
                    kind: code == ENOSPC || code == EDQUOT ? .quotaExceeded : .failure,
                    cause: FileSystemFailure(call: "write", code: code))
            }
            offset += written
        }
        size = next
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Gives the file its name at `path` (parents made as needed), replacing a file there;
    /// a directory there is a 400. Owner and mode as for any file the sandbox's root creates.
    public func commit(to path: WorkspacePath, in root: WorkspaceRoot, mode: mode_t = 0o644) throws {
        guard fsync(fd.raw) == 0 else { throw FileAPIError("cannot sync the upload", cause: FileSystemFailure(call: "fsync", code: errno)) }
        fchmod(fd.raw, mode)
        fchown(fd.raw, root.ownerUID, root.ownerGID)
        let location = try root.resolve(path, followFinal: true, createParents: true)
        guard let name = location.name else { throw FileAPIError.invalidRequest("\(path) is a directory") }
        var existing = stat()
        if fstatat(location.directory.raw, name, &existing, AT_SYMLINK_NOFOLLOW) == 0, existing.st_mode & S_IFMT == S_IFDIR {
            throw FileAPIError.invalidRequest("\(path) is a directory")
        }
        let source = "/proc/self/fd/\(fd.raw)"
        if linkat(AT_FDCWD, source, location.directory.raw, name, AT_SYMLINK_FOLLOW) != 0 {
            guard errno == EEXIST else { throw FileAPIError.system("linkat", errno, path) }
            let temporary = ".sbx-\(String(UInt64.random(in: 0...UInt64.max), radix: 16)).tmp"
            guard linkat(AT_FDCWD, source, location.directory.raw, temporary, AT_SYMLINK_FOLLOW) == 0 else {
                throw FileAPIError.system("linkat", errno, path)
            }
            guard renameat(location.directory.raw, temporary, location.directory.raw, name) == 0 else {
                let code = errno
                unlinkat(location.directory.raw, temporary, 0)
                throw FileAPIError.system("rename", code, path)
            }
        }
        WorkspaceRoot.syncDirectory(location.directory)
    }
}

extension WorkspaceRoot {
    /// fsync of a directory held by an `O_PATH` descriptor (which cannot be fsynced itself).
    static func syncDirectory(_ directory: FileDescriptor) {
        let fd = openat(directory.raw, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
