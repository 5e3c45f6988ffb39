import CSandbox
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Checks, for real, what the sandbox runtime needs: privileges, namespaces, overlayfs, cgroups
/// and idmapped mounts. Used by `/api/health/deep` and `sandbox-host doctor`.
///
/// Blocking (it clones a short-lived child and reads /proc): call it off the event loop.
public enum RuntimeProbe {
    /// The kernel's CLONE_NEW* bits (stable ABI; Glibc hides the macros without _GNU_SOURCE).
    static let namespaces: [(name: String, flag: Int32)] = [
        ("user", 0x1000_0000), ("pid", 0x2000_0000), ("mount", 0x0002_0000), ("net", 0x4000_0000),
        ("uts", 0x0400_0000), ("ipc", 0x0800_0000), ("cgroup", 0x0200_0000),
    ]

    public static func run(helperPath: String = SandboxRuntime.defaultHelperPath(environment: ProcessInfo.processInfo.environment)) -> [Capability] {
        [privileges(), namespaceSupport(), overlay(), cgroups(), idmappedMounts(), helper(helperPath)]
    }

    static func helper(_ path: String) -> Capability {
        if access(path, X_OK) == 0 {
            return Capability(name: "sandbox_helper", status: .ok, detail: "sandbox-init is installed beside sandbox-host", fix: "")
        }
        return Capability(
            name: "sandbox_helper", status: .critical, detail: "sandbox-init is missing beside sandbox-host",
            fix: "build it: make build (or swift build --product sandbox-init), or set SANDBOX_HOST_INIT_PATH")
    }

    static func privileges() -> Capability {
        if geteuid() == 0 {
            return Capability(name: "privileges", status: .ok, detail: "running as root", fix: "")
        }
        let maxUserNamespaces = readFile("/proc/sys/user/max_user_namespaces").flatMap {
            Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
        } ?? 0
        let detail = maxUserNamespaces > 0
            ? "not root; unprivileged user namespaces are allowed, but rootless sandboxes are not supported yet"
            : "not root, and unprivileged user namespaces are disabled"
        return Capability(
            name: "privileges", status: .critical, detail: detail,
            fix: "run sandbox-host as root (sudo), as CI does")
    }

    static func namespaceSupport() -> Capability {
        let all = namespaces.reduce(Int32(0)) { $0 | $1.flag }
        let rc = csb_probe_clone(all)
        if rc == 0 {
            let names = namespaces.map(\.name).joined(separator: ", ")
            return Capability(name: "namespaces", status: .ok, detail: "created \(names) namespaces", fix: "")
        }
        let failing = namespaces.filter { csb_probe_clone($0.flag) != 0 }.map(\.name)
        let which = failing.isEmpty ? "the combination" : failing.joined(separator: ", ")
        return Capability(
            name: "namespaces", status: .critical,
            detail: "cannot create \(which) namespaces: \(String(cString: strerror(rc)))",
            fix: "run as root on a kernel with CONFIG_USER_NS, CONFIG_PID_NS, CONFIG_NET_NS; "
                + "check sysctl user.max_user_namespaces > 0 and that no seccomp profile blocks clone/unshare")
    }

    static func overlay() -> Capability {
        let filesystems = readFile("/proc/filesystems") ?? ""
        let present = filesystems.split(separator: "\n").contains { $0.hasSuffix("\toverlay") }
        if present {
            return Capability(name: "overlayfs", status: .ok, detail: "overlay filesystem available", fix: "")
        }
        return Capability(
            name: "overlayfs", status: .degraded,
            detail: "overlay is not in /proc/filesystems: the default image cannot give each sandbox its own writable layer",
            fix: "modprobe overlay (and add it to /etc/modules)")
    }

    static func cgroups() -> Capability {
        let wanted = ["memory", "pids", "cpu"]
        switch CgroupLayout.detect() {
        case .v2(let root, let controllers):
            let missing = wanted.filter { !controllers.contains($0) }
            let writable = access(root, W_OK) == 0
            if missing.isEmpty && writable {
                return Capability(name: "cgroups", status: .ok, detail: "cgroup v2 with memory, pids, cpu", fix: "")
            }
            let detail = missing.isEmpty ? "cgroup v2 is read-only here" : "cgroup v2 lacks \(missing.joined(separator: ", "))"
            return Capability(
                name: "cgroups", status: .degraded, detail: detail + ": sandbox limits cannot be enforced",
                fix: "mount cgroup2 read-write at /sys/fs/cgroup and enable the controllers in cgroup.subtree_control")
        case .v1(let mounts):
            let missing = wanted.filter { controller in
                guard let path = mounts[controller] else { return true }
                return access(path, W_OK) != 0
            }
            if missing.isEmpty {
                return Capability(name: "cgroups", status: .ok, detail: "cgroup v1 with memory, pids, cpu", fix: "")
            }
            return Capability(
                name: "cgroups", status: .degraded,
                detail: "cgroup v1 without writable \(missing.joined(separator: ", ")): sandbox limits cannot be enforced",
                fix: "mount the missing controllers, e.g. mount -t cgroup -o memory cgroup /sys/fs/cgroup/memory")
        case .none:
            return Capability(
                name: "cgroups", status: .degraded, detail: "no cgroup filesystem is mounted",
                fix: "mount -t cgroup2 none /sys/fs/cgroup")
        }
    }

    static func idmappedMounts() -> Capability {
        var names = utsname()
        uname(&names)
        let release = withUnsafeBytes(of: &names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let numbers = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        let supported = numbers.count == 2 && (numbers[0], numbers[1]) >= (5, 12)
        if supported {
            return Capability(name: "idmapped_mounts", status: .ok, detail: "kernel \(release) supports idmapped mounts", fix: "")
        }
        return Capability(
            name: "idmapped_mounts", status: .degraded,
            detail: "kernel \(release) predates idmapped mounts (5.12): package installs inside sandboxes may fail",
            fix: "use a kernel of 5.12 or later")
    }

    static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            data.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: data, as: UTF8.self)
    }
}
