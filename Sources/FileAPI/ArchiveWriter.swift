import CArchive
#if canImport(Glibc)
import Glibc
#endif

/// The formats of `download-archive`.
public enum ArchiveFormat: String, Sendable, CaseIterable {
    case zip
    case tarGz = "tar.gz"
    case tar

    public var fileExtension: String { rawValue }

    public var contentType: String {
        switch self {
        case .zip: "application/zip"
        case .tarGz: "application/gzip"
        case .tar: "application/x-tar"
        }
    }
}

/// Writes a directory of the workspace as an archive with libarchive, block by block into a
/// sink, as it walks the tree: memory stays flat whatever the tree's size. Symlinks are stored as
/// links, never followed; fifos, sockets and devices are left out; heavy directories too unless
/// `all`, and entries more than `maxDepth` levels down (a `DirectoryWalk`: two directory
/// descriptors and one file open at most, whatever the depth). The sink answers false when nobody
/// wants the rest (the client went away): the walk stops.
public struct ArchiveWriter: Sendable {
    let root: WorkspaceRoot
    let path: WorkspacePath
    let format: ArchiveFormat
    let all: Bool
    let maxDepth: Int

    public init(root: WorkspaceRoot, path: WorkspacePath, format: ArchiveFormat, all: Bool, maxDepth: Int = WorkspaceRoot.defaultMaxDepth) {
        self.root = root
        self.path = path
        self.format = format
        self.all = all
        self.maxDepth = maxDepth
    }

    /// Checks that `path` is a directory before any byte is sent.
    public func validate() throws { _ = try root.openDirectory(path) }

    final class Output {
        let sink: (UnsafeRawBufferPointer) -> Bool
        var stopped = false
        init(sink: @escaping (UnsafeRawBufferPointer) -> Bool) { self.sink = sink }
    }

    public func write(to sink: @escaping (UnsafeRawBufferPointer) -> Bool) throws {
        ArchiveLocale.prepare()
        let directory = try root.openDirectory(path)
        let output = Output(sink: sink)
        guard let archive = archive_write_new() else { throw FileAPIError("libarchive: out of memory") }
        // Freeing an archive whose walk threw (a download abandoned) closes it, and the close
        // writes through the callback into `output`: it must still be alive then (it was not,
        // and the host crashed with a use-after-free in the callback).
        defer { withExtendedLifetime(output) { _ = archive_write_free(archive) } }
        switch format {
        case .zip:
            archive_write_set_format_zip(archive)
        case .tarGz:
            archive_write_set_format_pax_restricted(archive)
            archive_write_add_filter_gzip(archive)
        case .tar:
            archive_write_set_format_pax_restricted(archive)
        }
        archive_write_set_bytes_per_block(archive, 1 << 16)
        archive_write_set_bytes_in_last_block(archive, 1)
        let context = Unmanaged.passUnretained(output).toOpaque()
        let opened = withExtendedLifetime(output) {
            archive_write_open(archive, context, nil, { _, context, buffer, length in
                let output = Unmanaged<Output>.fromOpaque(context!).takeUnretainedValue()
                guard !output.stopped, output.sink(UnsafeRawBufferPointer(start: buffer, count: length)) else {
                    output.stopped = true
                    return -1
                }
                return length
            }, nil)
        }
        guard opened == ARCHIVE_OK else { throw FileAPIError("cannot start the archive: \(ArchiveLocale.error(archive))") }
        var entries = Entries(all: all, archive: archive, output: output)
        var walk = DirectoryWalk(maxDepth: maxDepth, sorted: true)
        try withExtendedLifetime(output) {
            try walk.run(directory.raw, prefix: "", visitor: &entries)
            guard archive_write_close(archive) == ARCHIVE_OK else { throw Self.stopped(output, archive) }
        }
    }

    static func stopped(_ output: Output, _ archive: OpaquePointer) -> FileAPIError {
        output.stopped ? FileAPIError("the download was abandoned", kind: .failure) : FileAPIError("cannot write the archive: \(ArchiveLocale.error(archive))")
    }
}

/// The visitor behind `ArchiveWriter`: one archive entry per walked entry.
private struct Entries: DirectoryVisitor {
    let all: Bool
    let archive: OpaquePointer
    let output: ArchiveWriter.Output
    var buffer = [UInt8](repeating: 0, count: 1 << 18)

    init(all: Bool, archive: OpaquePointer, output: ArchiveWriter.Output) {
        self.all = all
        self.archive = archive
        self.output = output
    }

    mutating func visit(_ walked: DirectoryWalk.Item) throws -> DirectoryWalk.Action {
        let item = walked.entry
        let fd = walked.directory
        let name = walked.path
        if item.isDirectory && !all && HeavyDirectories.contains(item.name) { return .next }
        guard let entry = archive_entry_new() else { throw FileAPIError("libarchive: out of memory") }
        defer { archive_entry_free(entry) }
        archive_entry_set_mtime(entry, item.modified.tv_sec, item.modified.tv_nsec)
        archive_entry_set_perm(entry, item.mode & 0o777)
        if item.isDirectory {
            archive_entry_copy_pathname(entry, name + "/")
            archive_entry_set_filetype(entry, Glibc.S_IFDIR)
            try header(entry)
            return .descend
        } else if item.isSymlink {
            guard let target = WorkspaceRoot.readLink(in: fd, item.name) else { return .next }
            archive_entry_copy_pathname(entry, name)
            archive_entry_set_filetype(entry, Glibc.S_IFLNK)
            archive_entry_copy_symlink(entry, target)
            archive_entry_set_size(entry, 0)
            try header(entry)
        } else if item.isRegular {
            let raw = openat(fd, item.name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
            guard raw >= 0 else { return .next }
            let file = FileDescriptor(raw)
            var info = stat()
            guard fstat(raw, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return .next }
            archive_entry_copy_pathname(entry, name)
            archive_entry_set_filetype(entry, Glibc.S_IFREG)
            archive_entry_set_size(entry, Int64(info.st_size))
            try header(entry)
            try copy(file.raw, size: Int64(info.st_size))
        }
        return .next
    }

    /// Copies exactly `size` bytes (what the header declared): zeros if the file shrank meanwhile.
    private mutating func copy(_ fd: Int32, size: Int64) throws {
        var remaining = size
        while remaining > 0 {
            let want = Int(min(Int64(buffer.count), remaining))
            var count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, want) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 {
                for index in 0..<want { buffer[index] = 0 }
                count = want
            }
            let written = buffer.withUnsafeBytes { archive_write_data(archive, $0.baseAddress!, count) }
            guard written >= 0 else { throw ArchiveWriter.stopped(output, archive) }
            remaining -= Int64(count)
        }
    }

    private func header(_ entry: OpaquePointer) throws {
        guard archive_write_header(archive, entry) >= ARCHIVE_WARN else { throw ArchiveWriter.stopped(output, archive) }
    }
}
