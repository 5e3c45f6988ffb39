import CArchive
#if canImport(Glibc)
import Glibc
#endif

/// Unpacks a root filesystem tarball (what `debootstrap` + `tar` or `docker export` produce) for
/// `sandbox-host images import`: owners, modes, times, links and device nodes kept, since an
/// image is trusted input from the host's administrator. Still refuses `..`, absolute names and
/// writes through symlinks, so a broken tarball cannot reach outside `directory`.
///
/// Not for archives from API clients: those go through the capped, sanitising extractor.
public enum RootfsArchive {
    /// Changes the process's working directory to `directory` (libarchive writes relative to it):
    /// for the command line, not for the server.
    public static func extract(_ archivePath: String, into directory: String) throws {
        guard chdir(directory) == 0 else { throw FileAPIError("cannot enter \(directory)") }
        guard let reader = archive_read_new() else { throw FileAPIError("libarchive: out of memory") }
        defer { archive_read_free(reader) }
        archive_read_support_filter_all(reader)
        archive_read_support_format_all(reader)
        guard archive_read_open_filename(reader, archivePath, 1 << 16) == ARCHIVE_OK else {
            throw FileAPIError("cannot read \(archivePath): \(String(cString: archive_error_string(reader)))")
        }
        guard let writer = archive_write_disk_new() else { throw FileAPIError("libarchive: out of memory") }
        defer { archive_write_free(writer) }
        let flags = ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR
            | ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS
        archive_write_disk_set_options(writer, flags)
        archive_write_disk_set_standard_lookup(writer)

        var entry: OpaquePointer?
        while true {
            let status = archive_read_next_header(reader, &entry)
            if status == ARCHIVE_EOF { break }
            guard status >= ARCHIVE_WARN, let entry else {
                throw FileAPIError("cannot read \(archivePath): \(String(cString: archive_error_string(reader)))")
            }
            // Names (and hard-link targets) are taken relative to `directory`, the working directory.
            let name = String(cString: archive_entry_pathname(entry))
            archive_entry_set_pathname(entry, relative(name))
            if let link = archive_entry_hardlink(entry) {
                archive_entry_set_hardlink(entry, relative(String(cString: link)))
            }
            guard archive_write_header(writer, entry) >= ARCHIVE_WARN else {
                throw FileAPIError("cannot extract \(name): \(String(cString: archive_error_string(writer)))")
            }
            var buffer: UnsafeRawPointer?
            var size = 0
            var offset: Int64 = 0
            while true {
                let read = archive_read_data_block(reader, &buffer, &size, &offset)
                if read == ARCHIVE_EOF { break }
                guard read >= ARCHIVE_WARN else { throw FileAPIError("cannot read \(name): \(String(cString: archive_error_string(reader)))") }
                guard archive_write_data_block(writer, buffer, size, offset) >= ARCHIVE_WARN else {
                    throw FileAPIError("cannot write \(name): \(String(cString: archive_error_string(writer)))")
                }
            }
            guard archive_write_finish_entry(writer) >= ARCHIVE_WARN else {
                throw FileAPIError("cannot finish \(name): \(String(cString: archive_error_string(writer)))")
            }
        }
    }

    private static func relative(_ name: String) -> String {
        let trimmed = name.drop { $0 == "/" }
        return trimmed.isEmpty ? "." : String(trimmed)
    }
}
