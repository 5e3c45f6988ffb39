import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Creates, limits, empties and removes the cgroups of sandboxes and of their commands.
///
/// Layout: `<hierarchy>/sandbox-host/<instance>/<sandbox_id>[/c<command_id>]`, where `instance`
/// names this host's data directory, so hosts sharing a machine (tests run several) never touch
/// each other's groups. cgroup v1 (as on our machines): the sandbox gets memory, pids, cpu,
/// cpuacct (its CPU time, for metrics; the same group when cpu and cpuacct share a mount) and
/// freezer groups; a command gets a freezer group, which lists and stops everything it started,
/// detached or not. cgroup v2: one directory each; `cgroup.kill` stops a command.
///
/// How a process joins (`joinFile`): it writes `0` (itself) into the group. On v1 that goes to
/// `tasks`, which moves only the calling thread: every process that joins is single-threaded
/// (sandbox-init before it clones, a command between fork and exec), so that moves the whole
/// process, and a thread moving itself skips the global `cgroup_threadgroup_rwsem` (kernel commit
/// 9a3284fad42f, "cgroup: Optimize single thread migration", 2022), whose write side waits for an
/// RCU grace period when the machine has been quiet — 6–7 ms per join here, against 0.25 ms
/// through `tasks` (see RESULTS.md). v2 has no `tasks`; a domain group is joined through
/// `cgroup.procs` (there, `CLONE_INTO_CGROUP` would be the way to avoid the wait; not done).
public final class CgroupManager: Sendable {
    public let layout: CgroupLayout?
    let instance: String

    public init(layout: CgroupLayout? = CgroupLayout.detect(), instance: String) {
        self.layout = layout
        self.instance = instance
    }

    var base: String { "sandbox-host/\(instance)" }

    /// The file in a group that a process writes `0` into to join it (see the type's comment).
    var joinFile: String { isV2 ? "cgroup.procs" : "tasks" }

    /// The v1 controllers a sandbox joins. cpuacct only counts (`cpuacct.usage`: the sandbox's CPU
    /// time for its metrics); a machine that mounts it with cpu (`cpu,cpuacct`) gets one group.
    static let v1Controllers = ["memory", "pids", "cpu", "cpuacct", "freezer"]

    /// The mount points of the v1 hierarchies a sandbox joins, each once.
    static func v1Hierarchies(_ mounts: [String: String]) -> [String] {
        var seen = Set<String>()
        return v1Controllers.compactMap { mounts[$0] }.filter { seen.insert($0).inserted }
    }

    /// The directories a sandbox's processes belong to, one per hierarchy.
    func sandboxDirectories(_ sandboxID: String) -> [String] {
        switch layout {
        case .v1(let mounts):
            return Self.v1Hierarchies(mounts).map { "\($0)/\(base)/\(sandboxID)" }
        case .v2(let root, _):
            return ["\(root)/\(base)/\(sandboxID)"]
        case nil:
            return []
        }
    }

    /// The directory whose membership tracks (and kills) everything one command started.
    func commandDirectory(_ sandboxID: String, command: UInt32) -> String? {
        switch layout {
        case .v1(let mounts): mounts["freezer"].map { "\($0)/\(base)/\(sandboxID)/c\(command)" }
        case .v2(let root, _): "\(root)/\(base)/\(sandboxID)/c\(command)"
        case nil: nil
        }
    }

    /// Creates the sandbox's groups with its limits; answers the files sandbox-init writes `0` into.
    func create(_ sandboxID: String, limits: SandboxLimits) throws -> [String] {
        if case .v2(let root, _) = layout { try enableV2Controllers(root: root) }
        let directories = sandboxDirectories(sandboxID)
        for directory in directories {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let memory = Int64(limits.memoryMB) << 20
        let quota = Int(limits.cpus * 100_000)
        switch layout {
        case .v1:
            for directory in directories {
                if directory.contains("/memory/") {
                    try SystemFile.write(directory + "/memory.limit_in_bytes", "\(memory)")
                    if SystemFile.exists(directory + "/memory.memsw.limit_in_bytes") {
                        try? SystemFile.write(directory + "/memory.memsw.limit_in_bytes", "\(memory)")
                    }
                } else if directory.contains("/pids/") {
                    try SystemFile.write(directory + "/pids.max", "\(limits.pids)")
                } else if SystemFile.exists(directory + "/cpu.cfs_quota_us") {
                    try SystemFile.write(directory + "/cpu.cfs_period_us", "100000")
                    try SystemFile.write(directory + "/cpu.cfs_quota_us", "\(quota)")
                }
            }
        case .v2:
            let directory = directories[0]
            try SystemFile.write(directory + "/memory.max", "\(memory)")
            try? SystemFile.write(directory + "/memory.swap.max", "0")
            try SystemFile.write(directory + "/pids.max", "\(limits.pids)")
            try SystemFile.write(directory + "/cpu.max", "\(quota) 100000")
        case nil:
            break
        }
        return directories.map { $0 + "/" + joinFile }
    }

    private func enableV2Controllers(root: String) throws {
        var path = root
        for component in ["sandbox-host", instance] {
            try? SystemFile.write(path + "/cgroup.subtree_control", "+memory +pids +cpu")
            path += "/" + component
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        try? SystemFile.write(path + "/cgroup.subtree_control", "+memory +pids +cpu")
    }

    /// Creates a command's group and opens its join file for the command to write `0` into before
    /// exec. The file is opened here, by the host, because cgroupfs checks the opener's credentials.
    func openCommandGroup(_ sandboxID: String, command: UInt32) throws -> Int32? {
        guard let directory = commandDirectory(sandboxID, command: command) else { return nil }
        try syscallChecked("mkdir cgroup") { mkdir(directory, 0o755) }
        return try syscallChecked("open \(joinFile)") { open(directory + "/" + joinFile, O_WRONLY | O_CLOEXEC) }
    }

    /// Kills every process in a command's group, including ones that detached (setsid, nohup,
    /// double fork), then removes the group. Safe to call on a group that is already empty.
    func killCommandGroup(_ sandboxID: String, command: UInt32) {
        guard let directory = commandDirectory(sandboxID, command: command) else { return }
        Self.killAll(in: directory, v2: isV2)
        _ = rmdir(directory)
    }

    /// Removes a command's group if nothing runs in it any more; a group kept busy by a
    /// background process stays until the sandbox stops.
    func releaseCommandGroup(_ sandboxID: String, command: UInt32) {
        guard let directory = commandDirectory(sandboxID, command: command) else { return }
        _ = rmdir(directory)
    }

    /// Answers the processes (host pids) in a group, children groups excluded.
    static func processes(in directory: String) -> [pid_t] {
        (SystemFile.read(directory + "/cgroup.procs") ?? "").split(separator: "\n").compactMap { pid_t($0) }
    }

    private var isV2: Bool {
        if case .v2 = layout { return true }
        return false
    }

    /// v2: `cgroup.kill`. v1: freeze, SIGKILL each member, thaw, until empty: a frozen group cannot
    /// fork, so the kill cannot be outrun by a fork bomb.
    static func killAll(in directory: String, v2: Bool) {
        if v2, SystemFile.exists(directory + "/cgroup.kill") {
            try? SystemFile.write(directory + "/cgroup.kill", "1")
            waitEmpty(directory)
            return
        }
        for _ in 0..<100 {
            let members = processes(in: directory)
            if members.isEmpty { return }
            let freezer = directory + "/freezer.state"
            let canFreeze = SystemFile.exists(freezer)
            if canFreeze {
                try? SystemFile.write(freezer, "FROZEN")
                for _ in 0..<200 {
                    if SystemFile.read(freezer)?.hasPrefix("FROZEN") == true { break }
                    usleep(500)
                }
            }
            for pid in processes(in: directory) { kill(pid, SIGKILL) }
            if canFreeze { try? SystemFile.write(freezer, "THAWED") }
            waitEmpty(directory)
        }
    }

    private static func waitEmpty(_ directory: String) {
        for _ in 0..<400 {
            if processes(in: directory).isEmpty { return }
            usleep(500)
        }
    }

    /// Removes a stopped sandbox's groups (and any command groups left in them).
    func remove(_ sandboxID: String) {
        for directory in sandboxDirectories(sandboxID) {
            Self.removeTree(directory, v2: isV2)
        }
    }

    /// Removes every group this host instance left behind (a crash, a kill -9), killing what
    /// still runs in them. Called at start, before any sandbox runs.
    func removeLeftovers() {
        let roots: [String]
        switch layout {
        case .v1(let mounts): roots = Self.v1Hierarchies(mounts).map { "\($0)/\(base)" }
        case .v2(let root, _): roots = ["\(root)/\(base)"]
        case nil: roots = []
        }
        // Kill first through the freezer (it sees every process), then remove all hierarchies,
        // this instance's own directory included.
        for root in roots.sorted(by: { $0.contains("freezer") && !$1.contains("freezer") }) {
            Self.removeTree(root, v2: isV2)
        }
    }

    /// Removes a cgroup directory and the groups below it, killing their processes first.
    /// Control files are not directories and are never touched.
    static func removeTree(_ directory: String, v2: Bool) {
        var info = stat()
        guard lstat(directory, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { return }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            removeTree(directory + "/" + name, v2: v2)
        }
        killAll(in: directory, v2: v2)
        // v1 memory groups keep the page cache their processes charged and linger as dying groups
        // (hundreds after a busy day, slowing every later cgroup operation): hand it to the parent.
        if !v2, SystemFile.exists(directory + "/memory.force_empty") {
            try? SystemFile.write(directory + "/memory.force_empty", "0")
        }
        // EBUSY lasts while the last killed processes are being torn down: retry briefly.
        for _ in 0..<200 {
            if rmdir(directory) == 0 || errno != EBUSY { return }
            usleep(1000)
        }
    }
}
