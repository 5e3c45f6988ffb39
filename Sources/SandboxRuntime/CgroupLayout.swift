/// Which cgroup hierarchy this machine mounts, read from /proc/self/mountinfo.
public enum CgroupLayout: Sendable, Equatable {
    /// The unified hierarchy at `root`, with the controllers it offers.
    case v2(root: String, controllers: Set<String>)
    /// Legacy hierarchies: controller name → mount point.
    case v1(mounts: [String: String])

    public static func detect() -> CgroupLayout? {
        parse(mountinfo: RuntimeProbe.readFile("/proc/self/mountinfo") ?? "") { path in
            RuntimeProbe.readFile(path)
        }
    }

    /// Parses mountinfo text; `read` supplies `cgroup.controllers` for a v2 mount. Prefers v2 when
    /// a machine mounts both (the hybrid layout), since limits then belong there.
    static func parse(mountinfo: String, read: (String) -> String?) -> CgroupLayout? {
        var v1: [String: String] = [:]
        var v2Root: String?
        for line in mountinfo.split(separator: "\n") {
            let halves = line.split(separator: " - ", maxSplits: 1)
            guard halves.count == 2 else { continue }
            let before = halves[0].split(separator: " ")
            let after = halves[1].split(separator: " ")
            guard before.count >= 5, after.count >= 3 else { continue }
            let mountPoint = String(before[4])
            switch after[0] {
            case "cgroup2":
                if v2Root == nil || mountPoint == "/sys/fs/cgroup" { v2Root = mountPoint }
            case "cgroup":
                for option in after[2].split(separator: ",") where v1[String(option)] == nil {
                    v1[String(option)] = mountPoint
                }
            default:
                continue
            }
        }
        if let v2Root, v1["memory"] == nil {
            let controllers = read(v2Root + "/cgroup.controllers") ?? ""
            return .v2(root: v2Root, controllers: Set(controllers.split(whereSeparator: \.isWhitespace).map(String.init)))
        }
        return v1.isEmpty ? nil : .v1(mounts: v1)
    }
}
