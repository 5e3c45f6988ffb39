import CArchive
import CSandbox
#if canImport(Glibc)
import Glibc
#endif

/// Extracts an archive from an API client (tar, tar.gz, zip; the format sniffed from the bytes)
/// under a directory of the workspace, treating every entry as hostile.
///
/// Entries land first in a private staging directory beside the workspaces, created one
/// component at a time without following any link; only when the whole archive has been read
/// within its caps are they moved into place. A refused archive (a cap hit, damaged data) leaves
/// nothing behind. Absolute names, names that climb out, hard links, device nodes, fifos and
/// sockets are skipped and reported; so are symlinks that would resolve outside the target
/// directory (checked against the extracted tree, links through links included). Permissions
/// keep only `rwx` bits; owners become the workspace's.
public struct ArchiveExtractor: Sendable {
    let root: WorkspaceRoot
    let stagingDirectory: String
    let limits: ExtractionLimits
    /// What the workspace's quota still allows, in bytes.
    let spaceLeft: Int64

    public init(root: WorkspaceRoot, stagingDirectory: String, limits: ExtractionLimits, spaceLeft: Int64) {
        self.root = root
        self.stagingDirectory = stagingDirectory
        self.limits = limits
        self.spaceLeft = spaceLeft
    }

    /// Reads the archive in `archive` (a seekable descriptor) into `directory`.
    public func extract(archive: Int32, into directory: WorkspacePath) throws -> ExtractionReport {
        ArchiveLocale.prepare()
        var template = Array((stagingDirectory + "/extract-XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw FileAPIError("cannot create a staging directory", cause: FileSystemFailure(call: "mkdtemp", code: errno))
        }
        let stagePath = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let stageFD = Glibc.open(stagePath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard stageFD >= 0 else { throw FileAPIError("cannot open the staging directory") }
        let stage = FileDescriptor(stageFD)
        defer {
            let parent = Glibc.open(stagingDirectory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if parent >= 0 {
                let name = String(stagePath.split(separator: "/").last!)
                try? WorkspaceRoot.removeEntry(parent, name, isDirectory: true, directory)
                close(parent)
            }
        }
        var report = try read(archive: archive, into: stage)
        removeEscapingLinks(stage, target: directory, report: &report)
        if report.extracted > 0 { csb_syncfs(stage.raw) }
        try merge(stage, into: directory, report: &report)
        return report
    }

    // MARK: Reading

    private func read(archive: Int32, into stage: FileDescriptor) throws -> ExtractionReport {
        guard let reader = archive_read_new() else { throw FileAPIError("libarchive: out of memory") }
        defer { archive_read_free(reader) }
        // Only decoders built into libarchive: never an external program on a client's bytes.
        archive_read_support_filter_gzip(reader)
        archive_read_support_format_tar(reader)
        archive_read_support_format_zip(reader)
        guard archive_read_open_fd(reader, archive, 1 << 16) == ARCHIVE_OK else {
            throw FileAPIError.invalidRequest("the body is not a tar, tar.gz or zip archive")
        }
        var report = ExtractionReport()
        var entries = 0
        var entry: OpaquePointer?
        while true {
            let status = archive_read_next_header(reader, &entry)
            if status == ARCHIVE_EOF { break }
            if status == ARCHIVE_FATAL || entry == nil {
                let reason = entries == 0 ? "the body is not a tar, tar.gz or zip archive" : "the archive is damaged: \(ArchiveLocale.error(reader))"
                throw FileAPIError.invalidRequest(reason)
            }
            entries += 1
            guard entries <= limits.maxEntries else {
                throw FileAPIError("the archive has more than \(limits.maxEntries) entries", kind: .tooLarge)
            }
            let name = archive_entry_pathname(entry).map { String(cString: $0) } ?? ""
            if status < ARCHIVE_WARN {
                report.skipped.append(.init(name: name, reason: "unreadable entry: \(ArchiveLocale.error(reader))"))
                continue
            }
            if let reason = try extractEntry(entry!, name: name, reader: reader, stage: stage, report: &report) {
                report.skipped.append(.init(name: name, reason: reason))
            }
        }
        return report
    }

    /// Writes one entry into the stage; the reason it was skipped, or nil.
    private func extractEntry(
        _ entry: OpaquePointer, name: String, reader: OpaquePointer, stage: FileDescriptor, report: inout ExtractionReport
    ) throws -> String? {
        if name.hasPrefix("/") { return "absolute path" }
        guard let components = Self.components(name) else { return "path leaves the target directory" }
        // The stage is never deeper than this, so its walks below (links, merge) hold an fd and
        // a stack frame per level for at most this many levels.
        guard components.count <= Self.maxEntryLevels else { return "more than \(Self.maxEntryLevels) levels deep" }
        if archive_entry_hardlink(entry) != nil { return "hard link" }
        let type = archive_entry_filetype(entry)
        if components.isEmpty { return type == S_IFDIR ? nil : "empty name" }
        let mode = mode_t(archive_entry_perm(entry)) & 0o777
        switch type {
        case S_IFDIR:
            guard let _ = try makeDirectories(stage, components, mode: mode) else { return "path goes through a symbolic link or a file" }
            report.extracted += 1
            return nil
        case S_IFLNK:
            guard let target = archive_entry_symlink(entry).map({ String(cString: $0) }), !target.isEmpty else { return "empty link" }
            guard let parent = try makeDirectories(stage, Array(components.dropLast()), mode: 0o755) else {
                return "path goes through a symbolic link or a file"
            }
            let last = components[components.count - 1]
            if !Self.clear(parent.raw, last) { return "conflicts with a directory of the same name" }
            guard symlinkat(target, parent.raw, last) == 0 else { return "cannot create the link" }
            fchownat(parent.raw, last, root.ownerUID, root.ownerGID, AT_SYMLINK_NOFOLLOW)
            report.extracted += 1
            return nil
        case S_IFREG:
            return try writeFile(entry, components, mode: mode, reader: reader, stage: stage, report: &report)
        case S_IFIFO: return "fifo"
        case S_IFCHR, S_IFBLK: return "device node"
        case S_IFSOCK: return "socket"
        default: return "unsupported entry type"
        }
    }

    private func writeFile(
        _ entry: OpaquePointer, _ components: [String], mode: mode_t, reader: OpaquePointer, stage: FileDescriptor,
        report: inout ExtractionReport
    ) throws -> String? {
        let declared = archive_entry_size_is_set(entry) != 0 ? archive_entry_size(entry) : 0
        try checkTotal(report.bytes + max(0, declared))
        guard let parent = try makeDirectories(stage, Array(components.dropLast()), mode: 0o755) else {
            return "path goes through a symbolic link or a file"
        }
        let last = components[components.count - 1]
        if !Self.clear(parent.raw, last) { return "conflicts with a directory of the same name" }
        let raw = openat(parent.raw, last, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard raw >= 0 else { return "cannot create the file" }
        let file = FileDescriptor(raw)
        let compressedStart = archive_filter_bytes(reader, -1)
        var length: Int64 = 0
        var buffer: UnsafeRawPointer?
        var size = 0
        var offset: Int64 = 0
        while true {
            let status = archive_read_data_block(reader, &buffer, &size, &offset)
            if status == ARCHIVE_EOF { break }
            guard status >= ARCHIVE_WARN else {
                throw FileAPIError.invalidRequest("the archive is damaged at \(components.joined(separator: "/")): \(ArchiveLocale.error(reader))")
            }
            let end = offset + Int64(size)
            if end > length {
                try checkTotal(report.bytes + (end - length))
                try checkRatio(end, since: compressedStart, reader, components)
                report.bytes += end - length
                length = end
            }
            var written = 0
            while written < size {
                let count = pwrite(file.raw, buffer! + written, size - written, off_t(offset) + off_t(written))
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else {
                    let code = errno
                    throw FileAPIError(
                        "cannot write \(components.joined(separator: "/"))", kind: code == ENOSPC || code == EDQUOT ? .quotaExceeded : .failure,
                        cause: FileSystemFailure(call: "pwrite", code: code))
                }
                written += count
            }
        }
        if declared > length {
            // A sparse file's trailing hole: no disk, but as costly to read as data, so it counts.
            try checkRatio(declared, since: compressedStart, reader, components)
            ftruncate(file.raw, off_t(declared))
        }
        fchmod(file.raw, mode)
        fchown(file.raw, root.ownerUID, root.ownerGID)
        var times = [timespec(tv_sec: archive_entry_mtime(entry), tv_nsec: 0), timespec(tv_sec: archive_entry_mtime(entry), tv_nsec: 0)]
        futimens(file.raw, &times)
        report.extracted += 1
        return nil
    }

    /// An entry of `length` bytes made from what the reader consumed since `compressedStart`:
    /// past the threshold, more than `maxRatio` to one is a bomb.
    private func checkRatio(_ length: Int64, since compressedStart: Int64, _ reader: OpaquePointer, _ components: [String]) throws {
        let compressed = max(1, archive_filter_bytes(reader, -1) - compressedStart)
        guard length > limits.ratioThreshold, Double(length) / Double(compressed) > limits.maxRatio else { return }
        throw FileAPIError(
            "\(components.joined(separator: "/")) expands more than \(Int(limits.maxRatio)):1; refused as a compression bomb",
            kind: .tooLarge)
    }

    private func checkTotal(_ bytes: Int64) throws {
        guard bytes <= limits.maxBytes else {
            throw FileAPIError("the archive expands to more than \(limits.maxBytes) bytes", kind: .tooLarge)
        }
        guard bytes <= spaceLeft else { throw FileAPIError("the workspace's disk quota would be exceeded", kind: .quotaExceeded) }
    }

    /// Opens (making them) the directories `components` below `base`, never through a link.
    /// Nil when one of them is a link or a file.
    private func makeDirectories(_ base: FileDescriptor, _ components: [String], mode: mode_t) throws -> FileDescriptor? {
        var current = base
        for (index, component) in components.enumerated() {
            let isTarget = index == components.count - 1
            if mkdirat(current.raw, component, 0o700) == 0 {
                fchownat(current.raw, component, root.ownerUID, root.ownerGID, AT_SYMLINK_NOFOLLOW)
                if !isTarget { fchmodat(current.raw, component, 0o755, 0) }
            } else if errno != EEXIST {
                return nil
            }
            let next = openat(current.raw, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard next >= 0 else { return nil }
            current = FileDescriptor(next)
            if isTarget { fchmod(current.raw, mode | 0o700) }
        }
        return current
    }

    /// Makes room for `name` in `directory`: a file or link there goes (a later entry wins), a
    /// directory stays and the answer is false.
    private static func clear(_ directory: Int32, _ name: String) -> Bool {
        var info = stat()
        guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return true }
        guard info.st_mode & S_IFMT != S_IFDIR else { return false }
        return unlinkat(directory, name, 0) == 0
    }

    /// Components an entry's name may have (after `.` and `..`); deeper entries are skipped, as
    /// walks of the workspace stop at this depth too.
    static let maxEntryLevels = WorkspaceRoot.defaultMaxDepth

    /// An entry's name as components, or nil when `..` climbs above the target directory.
    static func components(_ name: String) -> [String]? {
        var result: [String] = []
        for component in name.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..":
                guard !result.isEmpty else { return nil }
                result.removeLast()
            default: result.append(String(component))
            }
        }
        return result
    }
}
