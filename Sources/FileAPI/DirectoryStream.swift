#if canImport(Glibc)
import Glibc
#endif

/// The entries of one directory, read with `readdir` on a descriptor of its own (so the walker's
/// descriptor keeps no read position), names kept as raw bytes: a tenant may name a file with
/// bytes that are not UTF-8, and a name turned into a `String` and back would no longer be it.
///
/// Not thread-safe; closes its descriptor on `deinit`.
final class DirectoryStream {
    struct Entry {
        /// NUL-terminated, as `openat` and `unlinkat` take it.
        let name: [CChar]
        /// `DT_DIR`, `DT_REG`, …, or `DT_UNKNOWN` when the file system does not say.
        let type: UInt8
    }

    private let stream: OpaquePointer

    /// Opens a stream on `directory` (any descriptor of a directory); nil if that fails.
    init?(_ directory: Int32) {
        let fd = openat(directory, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        guard let stream = fdopendir(fd) else {
            Glibc.close(fd)
            return nil
        }
        self.stream = stream
    }

    deinit { closedir(stream) }

    /// The next entry but `.` and `..`; nil at the end.
    func next() -> Entry? {
        while let raw = readdir(stream) {
            let name = withUnsafeBytes(of: raw.pointee.d_name) { bytes -> [CChar] in
                var name = bytes.prefix { $0 != 0 }.map { CChar(bitPattern: $0) }
                name.append(0)
                return name
            }
            if name == [46, 0] || name == [46, 46, 0] { continue }
            return Entry(name: name, type: raw.pointee.d_type)
        }
        return nil
    }

    /// Where the stream is (`telldir`), to come back to with `seek(to:)` on a new stream of the
    /// same directory.
    var position: Int { telldir(stream) }

    func seek(to position: Int) { seekdir(stream, position) }

    /// `d_type` when known, else what `fstatat(AT_SYMLINK_NOFOLLOW)` says; nil if it is gone.
    static func isDirectory(_ entry: Entry, in directory: Int32) -> Bool? {
        if entry.type != UInt8(DT_UNKNOWN) { return entry.type == UInt8(DT_DIR) }
        var info = stat()
        guard fstatat(directory, entry.name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        return info.st_mode & S_IFMT == S_IFDIR
    }
}
