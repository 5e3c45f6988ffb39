/// The contract's coalescing of writes: at most one `modify` per file per window (50 ms), and
/// the last write of a burst is always followed by one. The first write after a quiet window is
/// reported at once; writes inside the window only mark the file, and the mark becomes one
/// `modify` when the window ends (`due`).
///
/// Bounded: a file is tracked only during the window after its last report, and at most
/// `capacity` files at once; past that, writes are reported as they come (uncoalesced, never lost).
/// Times are monotonic nanoseconds, passed in (so tests need no clock). Not thread-safe: the
/// watcher's thread owns it.
struct ModifyCoalescer<Key: Hashable> {
    private struct Entry {
        var reported: UInt64
        var pending: Bool
    }

    let window: UInt64
    let capacity: Int
    private var entries: [Key: Entry] = [:]

    init(windowNanoseconds: UInt64 = 50_000_000, capacity: Int = 8_192) {
        window = windowNanoseconds
        self.capacity = capacity
    }

    /// A write to `key` at `now`: true when it is to be reported now.
    mutating func modified(_ key: Key, now: UInt64) -> Bool {
        if var entry = entries[key], now &- entry.reported < window {
            entry.pending = true
            entries[key] = entry
            return false
        }
        if entries[key] != nil || entries.count < capacity { entries[key] = Entry(reported: now, pending: false) }
        return true
    }

    /// The files whose window ended with a write still unreported: report them now. Files whose
    /// window ended quietly are forgotten.
    mutating func due(now: UInt64) -> [Key] {
        var ready: [Key] = []
        for (key, entry) in entries where now &- entry.reported >= window {
            if entry.pending {
                ready.append(key)
                entries[key] = Entry(reported: now, pending: false)
            } else {
                entries.removeValue(forKey: key)
            }
        }
        return ready
    }

    /// Forgets `key` (deleted, renamed); true when it had an unreported write, to report
    /// before whatever happened to it.
    mutating func take(_ key: Key) -> Bool {
        entries.removeValue(forKey: key)?.pending ?? false
    }

    /// When `due` next has something to do; nil when nothing is tracked.
    var nextDeadline: UInt64? {
        entries.values.lazy.map { $0.reported &+ self.window }.min()
    }

    var isEmpty: Bool { entries.isEmpty }
}
