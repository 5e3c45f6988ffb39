import SandboxRuntime
#if canImport(Glibc)
import Glibc
#endif

extension Timestamp {
    /// An HTTP date (RFC 9110 IMF-fixdate: `Mon, 23 Nov 2026 01:44:26 GMT`).
    static func httpDate(seconds: Double) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
