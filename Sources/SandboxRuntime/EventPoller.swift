import CSandbox
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One thread, one epoll set, for every descriptor the sandbox runtime watches: control sockets,
/// command output pipes, pidfds. No per-sandbox thread or timer.
///
/// Handlers run on the poller's thread and must not block: they read what is there
/// (non-blocking), hand it on and return. Level-triggered, so a handler that leaves data unread is
/// called again.
public final class EventPoller: Sendable {
    public typealias Handler = @Sendable (_ events: UInt32) -> Void

    public static let shared = EventPoller()

    private let epollFD: Int32
    private let handlers = Mutex<[Int32: Handler]>([:])
    /// Descriptors paused by `pause` or held by `hold`, with the events to restore; a later
    /// `unregister` drops the entry, so a timer or a late `release` never revives a closed
    /// descriptor whose number was reused.
    private let paused = Mutex<[Int32: Pause]>([:])

    private enum Pause {
        /// Watched for nothing but hang-ups until a timer restores `events`.
        case timed(events: UInt32)
        /// Out of the epoll set until `release` puts it back with `events`.
        case held(events: UInt32)
    }

    init() {
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        precondition(epollFD >= 0, "epoll_create1 failed: \(errno)")
        let thread = Thread { [self] in self.run() }
        thread.name = "sandbox-poller"
        thread.start()
    }

    /// Watches `fd` for input (and hang-up), or for `events` when given (a connecting socket:
    /// `EPOLLOUT | EPOLLONESHOT`); `handler` is called on the poller thread.
    public func register(_ fd: Int32, events: UInt32? = nil, handler: @escaping Handler) throws {
        handlers.withLock { $0[fd] = handler }
        paused.withLock { _ = $0.removeValue(forKey: fd) }
        var event = epoll_event()
        event.events = events ?? (EPOLLIN.rawValue | EPOLLRDHUP.rawValue)
        event.data.fd = fd
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) == 0 else {
            let code = errno
            handlers.withLock { _ = $0.removeValue(forKey: fd) }
            throw RuntimeFailure.system("epoll_ctl", code)
        }
    }

    /// Stops watching `fd`; call before closing it.
    public func unregister(_ fd: Int32) {
        var event = epoll_event()
        _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, &event)
        handlers.withLock { _ = $0.removeValue(forKey: fd) }
        paused.withLock { _ = $0.removeValue(forKey: fd) }
    }

    /// Stops reporting input on `fd` for `delay` (a hang-up is still reported), then watches it
    /// again for `EPOLLIN | EPOLLRDHUP`: back-pressure for a writer nobody waits for, so that it
    /// blocks on its full pipe instead of keeping this thread busy.
    public func pause(_ fd: Int32, for delay: Duration) {
        let input = EPOLLIN.rawValue | EPOLLRDHUP.rawValue
        let held = paused.withLock { paused -> Bool in
            if case .held? = paused[fd] { return true }
            paused[fd] = .timed(events: input)
            return false
        }
        guard !held else { return }
        var quiet = epoll_event()
        quiet.data.fd = fd
        _ = epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &quiet)
        let nanoseconds = delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) { [self] in
            // Under the lock: `unregister` (and so the close that follows it) cannot run between
            // the check and the restore.
            paused.withLock { paused in
                guard case .timed(let events)? = paused[fd] else { return }
                paused[fd] = nil
                var event = epoll_event()
                event.events = events
                event.data.fd = fd
                _ = epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event)
            }
        }
    }

    /// Takes `fd` out of the epoll set (hang-ups included: a held pipe whose writer closed must
    /// not wake this thread again and again) until `release(fd)`: back-pressure from a consumer
    /// that is behind (a session's log writer). Reports nothing for `fd` meanwhile; the data
    /// stays in the pipe and its writer blocks when it is full.
    func hold(_ fd: Int32) {
        paused.withLock { paused in
            paused[fd] = .held(events: EPOLLIN.rawValue | EPOLLRDHUP.rawValue)
            var event = epoll_event()
            _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, &event)
        }
    }

    /// Puts a held `fd` back in the epoll set; nothing when it is not held (released already,
    /// or unregistered and closed: the number may be another descriptor's now). Any thread.
    func release(_ fd: Int32) {
        // Under the lock: `unregister` (and the close after it) cannot run between the check
        // and the add.
        paused.withLock { paused in
            guard case .held(let events)? = paused[fd] else { return }
            paused[fd] = nil
            var event = epoll_event()
            event.events = events
            event.data.fd = fd
            _ = epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event)
        }
    }

    private func run() {
        // Foundation's `Thread.name` does not reach the kernel here: name it for ps, top and tests.
        _ = csb_set_thread_name("sandbox-poller")
        var events = [epoll_event](repeating: epoll_event(), count: 128)
        while true {
            let count = events.withUnsafeMutableBufferPointer { epoll_wait(epollFD, $0.baseAddress, Int32($0.count), -1) }
            if count < 0 {
                if errno == EINTR { continue }
                fatalError("epoll_wait failed: \(errno)")
            }
            for index in 0..<Int(count) {
                let fd = events[index].data.fd
                let mask = events[index].events
                if let handler = handlers.withLock({ $0[fd] }) { handler(mask) }
            }
        }
    }
}
