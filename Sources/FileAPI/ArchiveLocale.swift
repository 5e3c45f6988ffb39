import CArchive
#if canImport(Glibc)
import Glibc
#endif

/// What every libarchive call here shares. libarchive converts names between the process's locale and UTF-8; a Swift process starts in
/// the C locale, where non-ASCII names fail to convert. Every archive operation calls `prepare`
/// first, which switches `LC_CTYPE` to UTF-8 once.
enum ArchiveLocale {
    private static let prepared: Bool = {
        setlocale(LC_CTYPE, "C.UTF-8") != nil || setlocale(LC_CTYPE, "C.utf8") != nil
    }()

    static func prepare() { _ = prepared }

    /// libarchive's message for the last failure of `archive`.
    static func error(_ archive: OpaquePointer) -> String {
        archive_error_string(archive).map { String(cString: $0) } ?? "unknown error"
    }
}
