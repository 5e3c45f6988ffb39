#if canImport(Glibc)
import Glibc
#endif

/// The process's soft limit on open descriptors (`RLIMIT_NOFILE`), which the default caps on
/// connections and staged uploads are cut from.
enum DescriptorLimit {
    static var soft: Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1_024 }
        return limit.rlim_cur == rlim_t.max ? Int.max : Int(clamping: limit.rlim_cur)
    }
}
