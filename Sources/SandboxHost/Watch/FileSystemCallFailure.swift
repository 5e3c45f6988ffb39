#if canImport(Glibc)
import Glibc
#endif

/// A failed system call, as an error's cause (logs only).
struct FileSystemCallFailure: Error, CustomStringConvertible {
    let call: String
    let code: Int32
    var description: String { "\(call): \(String(cString: strerror(code)))" }
}
