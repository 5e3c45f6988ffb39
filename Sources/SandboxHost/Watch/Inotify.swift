import CSandbox
#if canImport(Glibc)
import Glibc
#endif

/// One inotify instance (non-blocking, close-on-exec) and its events; closed on `deinit`, which
/// drops every watch it holds. Not thread-safe: made by a request, then owned by the project
/// watcher's thread alone (hence `@unchecked Sendable`, for that one hand-over).
final class Inotify: @unchecked Sendable {
    /// One event as the kernel wrote it; `name` is raw bytes (a tenant's name need not be UTF-8).
    struct Event {
        let wd: Int32
        let mask: UInt32
        let cookie: UInt32
        let name: [UInt8]

        func has(_ flag: UInt32) -> Bool { mask & flag != 0 }
        var isDirectory: Bool { has(Inotify.isDirectory) }
    }

    static let modify: UInt32 = 0x0000_0002
    static let movedFrom: UInt32 = 0x0000_0040
    static let movedTo: UInt32 = 0x0000_0080
    static let create: UInt32 = 0x0000_0100
    static let delete: UInt32 = 0x0000_0200
    static let deleteSelf: UInt32 = 0x0000_0400
    static let moveSelf: UInt32 = 0x0000_0800
    static let unmount: UInt32 = 0x0000_2000
    static let queueOverflow: UInt32 = 0x0000_4000
    static let ignored: UInt32 = 0x0000_8000
    static let onlyDirectory: UInt32 = 0x0100_0000
    static let excludeUnlinked: UInt32 = 0x0400_0000
    static let isDirectory: UInt32 = 0x4000_0000

    /// What each directory's watch reports. No IN_DONT_FOLLOW: the watch is added through
    /// `/proc/self/fd/N`, a link that must be followed to reach the directory, and that fd was
    /// opened with O_NOFOLLOW (with IN_DONT_FOLLOW the kernel would watch the link and refuse:
    /// ENOTDIR with IN_ONLYDIR). IN_EXCL_UNLINK: no events from files already unlinked.
    static let directoryMask = modify | movedFrom | movedTo | create | delete | deleteSelf | moveSelf | onlyDirectory | excludeUnlinked

    let fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 64 << 10)

    /// nil and `errno` when the kernel refuses (EMFILE: the host's `max_user_instances`).
    init?() {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { return nil }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Watches the directory open at `directory` (never by a path a tenant controls): its wd,
    /// or -1 and `errno` (ENOSPC: the host's `max_user_watches`).
    func watch(directory: Int32) -> Int32 {
        inotify_add_watch(fd, "/proc/self/fd/\(directory)", Self.directoryMask)
    }

    func remove(_ wd: Int32) { _ = inotify_rm_watch(fd, wd) }

    /// The events waiting (one read of up to 64 KiB); nil when there are none now (EAGAIN).
    func read() -> [Event]? {
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        var events: [Event] = []
        buffer.withUnsafeBytes { bytes in
            var offset = 0
            let header = 16
            while offset + header <= count {
                let wd = bytes.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                let mask = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                let cookie = bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)
                let length = Int(bytes.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                let start = offset + header
                let end = min(start + length, count)
                let name = Array(bytes[start..<end].prefix { $0 != 0 })
                events.append(Event(wd: wd, mask: mask, cookie: cookie, name: name))
                offset = start + length
            }
        }
        return events
    }
}
