#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock times as the contract writes them.
public enum Timestamp {
    /// Unix milliseconds now.
    public static func milliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    /// ISO-8601 UTC with milliseconds (`2026-11-23T01:44:26.123Z`): fixed width, so it sorts as text.
    public static func iso8601(milliseconds: Int64 = milliseconds()) -> String {
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + "\(pad(Int32(milliseconds % 1000), 3))Z"
    }

    /// ISO-8601 UTC of a file time in seconds.
    public static func iso8601(seconds: Double) -> String { iso8601(milliseconds: Int64((seconds * 1000).rounded(.down))) }
}
