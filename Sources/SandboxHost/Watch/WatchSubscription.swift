import FileAPI
import Synchronization

/// One client's watch: what it asked for, and a bounded queue of the events meant for it, which
/// its stream drains. The project's watcher thread fills it and pokes its `WakeSignal`; a client
/// that falls behind (more than `maxEvents` or `maxBytes` waiting) loses the queued events and
/// gets one `overflow` instead, so a slow or stalled reader holds a bounded amount of memory and
/// never slows the watcher down. Thread-safe.
final class WatchSubscription: Sendable {
    /// Events waiting at most, and their paths' bytes at most (a path may be 64 KiB deep).
    static let maxEvents = 2_048
    static let maxBytes = 1 << 20

    let base: WorkspacePath
    let recursive: Bool
    /// Heavy directories (`node_modules`, `.git`, …) watched too.
    let all: Bool
    let signal = WakeSignal()

    private struct Queue {
        var events: [WatchEvent] = []
        var bytes = 0
        /// Overflows to send before the queued events, in order, each once.
        var overflows: [WatchEvent.Overflow] = []
        var ended = false
    }

    private let queue = Mutex(Queue())

    init(base: WorkspacePath, recursive: Bool, all: Bool) {
        self.base = base
        self.recursive = recursive
        self.all = all
    }

    /// Queues `event` (dropping what waits, for an overflow, when the queue is full).
    func push(_ event: WatchEvent) {
        queue.withLock { queue in
            guard !queue.ended else { return }
            if queue.events.count >= Self.maxEvents || queue.bytes + event.cost > Self.maxBytes {
                queue.events.removeAll(keepingCapacity: false)
                queue.bytes = 0
                if !queue.overflows.contains(.clientQueue) { queue.overflows.append(.clientQueue) }
            }
            queue.events.append(event)
            queue.bytes += event.cost
        }
        signal.notify(closed: false)
    }

    /// Tells the client to list again, for `reason`.
    func overflow(_ reason: WatchEvent.Overflow) {
        queue.withLock { queue in
            guard !queue.ended, !queue.overflows.contains(reason) else { return }
            queue.overflows.append(reason)
        }
        signal.notify(closed: false)
    }

    /// No more events: the watched directory is gone, or the project's volume went away. What
    /// is queued is still delivered.
    func end() {
        let first = queue.withLock { queue in
            defer { queue.ended = true }
            return !queue.ended
        }
        if first { signal.notify(closed: true) }
    }

    var isEnded: Bool { queue.withLock { $0.ended } }

    /// Everything waiting, overflows first; the queue is left empty.
    func take() -> [WatchEvent] {
        queue.withLock { queue in
            let taken = queue.overflows.map(WatchEvent.overflow) + queue.events
            queue.overflows.removeAll()
            queue.events.removeAll()
            queue.bytes = 0
            return taken
        }
    }
}
