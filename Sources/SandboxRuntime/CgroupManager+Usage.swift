import Foundation

/// A sandbox's CPU time, memory and pids as its cgroups count them (`SandboxUsage`).
///
/// Reads the groups the runtime made for it (see `CgroupManager`): on v1, `cpuacct.usage` of its
/// cpuacct group (the cpu group's own when the two share a mount), `memory.usage_in_bytes` and
/// `memory.limit_in_bytes`, `pids.current` and `pids.max`; on v2, `cpu.stat` `usage_usec`,
/// `memory.current`, `memory.max`, `pids.current`, `pids.max`. Memory is less the inactive file
/// cache (`total_inactive_file` / `inactive_file` of `memory.stat`). Blocking file reads: call on
/// a thread of its own. A group that is gone (the sandbox stopped) leaves the figures as they were.
extension CgroupManager {
    func readUsage(_ sandboxID: String, into usage: inout SandboxUsage) {
        switch layout {
        case .v1(let mounts):
            func group(_ controller: String) -> String? { mounts[controller].map { "\($0)/\(base)/\(sandboxID)" } }
            if let cpu = group("cpuacct") ?? group("cpu"), let nanoseconds = Self.number(cpu + "/cpuacct.usage") {
                usage.cpuNanoseconds = UInt64(max(0, nanoseconds))
            }
            if let memory = group("memory"), let charged = Self.number(memory + "/memory.usage_in_bytes") {
                let inactive = Self.statField(memory + "/memory.stat", "total_inactive_file") ?? 0
                usage.memoryBytes = max(0, charged - inactive)
                if let limit = Self.number(memory + "/memory.limit_in_bytes") { usage.memoryLimitBytes = limit }
            }
            if let pids = group("pids") { Self.readPids(pids, into: &usage) }
        case .v2(let root, _):
            let directory = "\(root)/\(base)/\(sandboxID)"
            if let microseconds = Self.statField(directory + "/cpu.stat", "usage_usec") {
                usage.cpuNanoseconds = UInt64(max(0, microseconds)) * 1000
            }
            if let charged = Self.number(directory + "/memory.current") {
                let inactive = Self.statField(directory + "/memory.stat", "inactive_file") ?? 0
                usage.memoryBytes = max(0, charged - inactive)
                if let limit = Self.number(directory + "/memory.max") { usage.memoryLimitBytes = limit }
            }
            Self.readPids(directory, into: &usage)
        case nil:
            break
        }
    }

    private static func readPids(_ directory: String, into usage: inout SandboxUsage) {
        guard let current = number(directory + "/pids.current") else { return }
        usage.pids = Int(current)
        if let limit = number(directory + "/pids.max") { usage.pidsLimit = Int(limit) }
    }

    /// A file holding one number; nil when missing, `max`, or the v1 "no limit" value (2^63 less a page).
    static func number(_ path: String) -> Int64? {
        guard let text = SystemFile.read(path) else { return nil }
        return parseNumber(text)
    }

    static func parseNumber(_ text: String) -> Int64? {
        guard let value = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines)), value >= 0, value < 1 << 60 else { return nil }
        return value
    }

    /// The value of `key` in a flat-keyed file (`memory.stat`, `cpu.stat`: `key value` lines).
    static func statField(_ path: String, _ key: String) -> Int64? {
        guard let text = SystemFile.read(path) else { return nil }
        return parseStatField(text, key)
    }

    static func parseStatField(_ text: String, _ key: String) -> Int64? {
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0] == key { return parseNumber(String(parts[1])) }
        }
        return nil
    }
}
