import SandboxRuntime
import Synchronization

/// The last CPU reading of each sandbox whose metrics were asked for, so `cpu_percent` covers the
/// interval since the previous call (as `docker stats` does between its reads): 100 is one CPU
/// busy. A call within `minimumInterval` of the last reading answers that reading's percent (a
/// client polling fast does not get noise). A sandbox seen for the first time has no percent
/// yet: the caller reads again after `firstInterval`.
///
/// Bounded: `maxEntries` readings at most (the oldest go first); a stopped sandbox's is dropped.
final class CPUSampler: Sendable {
    static let minimumInterval = 0.1
    static let firstInterval = Duration.milliseconds(100)
    static let maxEntries = 4096

    private struct Reading {
        var cpuNanoseconds: UInt64
        var at: Double
        var percent: Double?
    }

    private let readings = Mutex<[String: Reading]>([:])

    /// The percent since the previous reading of `sandboxID`, recording `usage` as the new one;
    /// nil when there is none to compare with (first call, or the sandbox restarted since).
    func percent(_ sandboxID: String, _ usage: SandboxUsage) -> Double? {
        readings.withLock { table in
            if let previous = table[sandboxID], usage.cpuNanoseconds >= previous.cpuNanoseconds {
                let elapsed = usage.monotonicSeconds - previous.at
                if elapsed < Self.minimumInterval, let percent = previous.percent { return percent }
                if elapsed >= Self.minimumInterval {
                    let seconds = Double(usage.cpuNanoseconds - previous.cpuNanoseconds) / 1e9
                    let percent = (seconds / elapsed * 100 * 100).rounded() / 100
                    table[sandboxID] = Reading(cpuNanoseconds: usage.cpuNanoseconds, at: usage.monotonicSeconds, percent: percent)
                    return percent
                }
                return nil
            }
            if table[sandboxID] == nil, table.count >= Self.maxEntries, let oldest = table.min(by: { $0.value.at < $1.value.at })?.key {
                table[oldest] = nil
            }
            table[sandboxID] = Reading(cpuNanoseconds: usage.cpuNanoseconds, at: usage.monotonicSeconds, percent: nil)
            return nil
        }
    }

    /// The sandbox stopped (or went): its reading is of no use any more.
    func forget(_ sandboxID: String) {
        _ = readings.withLock { $0.removeValue(forKey: sandboxID) }
    }
}
