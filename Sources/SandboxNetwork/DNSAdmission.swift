import Synchronization

/// Counts what is in progress per key and in all (queries per sandbox, connections per source)
/// and refuses past the limits, so a flood costs a counter and no memory. Thread-safe; a key's
/// entry goes when its count is back to zero, so the table holds only keys with work in progress.
final class DNSAdmission: Sendable {
    let perKey: Int
    let total: Int

    private struct State {
        var counts: [String: Int] = [:]
        var total = 0
        var peakTotal = 0
    }

    private let state = Mutex(State())

    init(perKey: Int, total: Int) {
        self.perKey = perKey
        self.total = total
    }

    /// True when `key` may start one more; the caller then calls `leave(key)` exactly once.
    func enter(_ key: String) -> Bool {
        state.withLock { state in
            let current = state.counts[key, default: 0]
            guard current < perKey, state.total < total else { return false }
            state.counts[key] = current + 1
            state.total += 1
            state.peakTotal = max(state.peakTotal, state.total)
            return true
        }
    }

    func leave(_ key: String) {
        state.withLock { state in
            guard let current = state.counts[key] else { return }
            state.counts[key] = current > 1 ? current - 1 : nil
            state.total -= 1
        }
    }

    /// In progress now, for `key` or in all; and the most ever in progress at once.
    func count(_ key: String? = nil) -> Int {
        state.withLock { state in key.map { state.counts[$0, default: 0] } ?? state.total }
    }

    var peak: Int { state.withLock { $0.peakTotal } }
}
