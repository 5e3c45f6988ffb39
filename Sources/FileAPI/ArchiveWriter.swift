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
/// `all`. The sink answers false when nobody wants the rest (the client went away): the walk stops.
public struct ArchiveWriter: Sendable {
    let root: WorkspaceRoot
    let path: WorkspacePath
    let format: ArchiveFormat
    let all: Bool

    public init(root: WorkspaceRoot, path: WorkspacePath, format: ArchiveFormat, all: Bool) {
        self.root = root
        self.path = path
        self.format = format
        self.all = all
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
        guard let archive = archive_write_new() else { throw FileAPIError("libarchive: out of memory") }
        defer { archive_write_free(archive) }
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
        let output = Output(sink: sink)
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
        var buffer = [UInt8](repeating: 0, count: 1 << 18)
        try withExtendedLifetime(output) {
            try walk(directory.raw, prefix: "", archive: archive, buffer: &buffer, output: output)
            guard archive_write_close(archive) == ARCHIVE_OK else { throw stopped(output, archive) }
        }
    }

    private func walk(_ fd: Int32, prefix: String, archive: OpaquePointer, buffer: inout [UInt8], output: Output) throws {
        for item in WorkspaceRoot.sortedForTree(DirectoryEntry.read(fd)) {
            let name = prefix + item.name
            guard let entry = archive_entry_new() else { throw FileAPIError("libarchive: out of memory") }
            defer { archive_entry_free(entry) }
            archive_entry_set_mtime(entry, item.modified.tv_sec, item.modified.tv_nsec)
            archive_entry_set_perm(entry, item.mode & 0o777)
            if item.isDirectory {
                if !all && HeavyDirectories.contains(item.name) { continue }
                guard let child = DirectoryEntry.openDirectory(fd, item.name) else { continue }
                archive_entry_copy_pathname(entry, name + "/")
                archive_entry_set_filetype(entry, Glibc.S_IFDIR)
                try header(archive, entry, output)
                try walk(child.raw, prefix: name + "/", archive: archive, buffer: &buffer, output: output)
            } else if item.isSymlink {
                guard let target = WorkspaceRoot.readLink(in: fd, item.name) else { continue }
                archive_entry_copy_pathname(entry, name)
                archive_entry_set_filetype(entry, Glibc.S_IFLNK)
                archive_entry_copy_symlink(entry, target)
                archive_entry_set_size(entry, 0)
                try header(archive, entry, output)
            } else if item.isRegular {
                let raw = openat(fd, item.name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
                guard raw >= 0 else { continue }
                let file = FileDescriptor(raw)
                var info = stat()
                guard fstat(raw, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
                archive_entry_copy_pathname(entry, name)
                archive_entry_set_filetype(entry, Glibc.S_IFREG)
                archive_entry_set_size(entry, Int64(info.st_size))
                try header(archive, entry, output)
                try copy(file.raw, size: Int64(info.st_size), archive: archive, buffer: &buffer, output: output)
            }
        }
    }

    /// Copies exactly `size` bytes (what the header declared): zeros if the file shrank meanwhile.
    private func copy(_ fd: Int32, size: Int64, archive: OpaquePointer, buffer: inout [UInt8], output: Output) throws {
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
            guard written >= 0 else { throw stopped(output, archive) }
            remaining -= Int64(count)
        }
    }

    private func header(_ archive: OpaquePointer, _ entry: OpaquePointer, _ output: Output) throws {
        guard archive_write_header(archive, entry) >= ARCHIVE_WARN else { throw stopped(output, archive) }
    }

    private func stopped(_ output: Output, _ archive: OpaquePointer) -> FileAPIError {
        output.stopped ? FileAPIError("the download was abandoned", kind: .failure) : FileAPIError("cannot write the archive: \(ArchiveLocale.error(archive))")
    }
}
