import Synchronization

/// One lock per key (a project, a session): work on one key is serialised while other keys'
/// go on at the same time, so one slow disk operation (an mkfs, a mount, opening a session's
/// files) holds up its own key only, where one global lock would hold up every key.
///
/// Blocking: `withLock` waits for the key's lock on the calling thread, so call it off the
/// cooperative pool (a `DedicatedThread`, a reader pool). Locks are made on first use and
/// dropped when nobody holds or waits for them: the table is bounded by the calls in flight,
/// not by the keys there ever were.
final class KeyedLocks: Sendable {
    private final class Entry: Sendable {
        let mutex = Mutex(())
    }

    private let table = Mutex<[String: (entry: Entry, users: Int)]>([:])

    func withLock<T: Sendable>(_ key: String, _ body: () throws -> T) throws -> T {
        let entry = table.withLock { table -> Entry in
            let slot = table[key] ?? (Entry(), 0)
            table[key] = (slot.entry, slot.users + 1)
            return slot.entry
        }
        defer {
            table.withLock { table in
                guard let slot = table[key] else { return }
                table[key] = slot.users > 1 ? (slot.entry, slot.users - 1) : nil
            }
        }
        return try entry.mutex.withLock { _ in try body() }
    }

    /// Keys whose lock is held or waited for now (tests).
    var count: Int { table.withLock { $0.count } }
}
