#if canImport(Glibc)
import Glibc
#endif

/// libarchive converts names between the process's locale and UTF-8; a Swift process starts in
/// the C locale, where non-ASCII names fail to convert. Every archive operation calls `prepare`
/// first, which switches `LC_CTYPE` to UTF-8 once.
enum ArchiveLocale {
    private static let prepared: Bool = {
        setlocale(LC_CTYPE, "C.UTF-8") != nil || setlocale(LC_CTYPE, "C.utf8") != nil
    }()

    static func prepare() { _ = prepared }
}
