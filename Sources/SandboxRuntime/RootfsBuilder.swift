import FileAPI
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes a sandbox's root directory for the default image: the directory skeleton, links into
/// `/usr` (merged-usr), and a curated `/etc`, all owned by the sandbox's root.
///
/// The host's `/usr` arrives later, as an overlay that sandbox-init mounts; nothing else of the
/// host's filesystem is copied in, except the few `/etc` files a program expects (dynamic linker
/// cache, CA bundle, `alternatives` links, name-service switch).
enum RootfsBuilder {
    static func build(at root: String, uidBase: UInt32) throws {
        let owner = uid_t(uidBase), group = gid_t(uidBase)
        let directories: [(String, mode_t)] = [
            ("", 0o755), ("usr", 0o755), ("workspace", 0o755), ("tmp", 0o1777), ("proc", 0o555), ("dev", 0o755),
            ("sys", 0o555), ("etc", 0o755), ("etc/ssl", 0o755), ("etc/ssl/certs", 0o755), ("etc/alternatives", 0o755),
            ("etc/ld.so.conf.d", 0o755), ("root", 0o700), ("home", 0o755), ("home/user", 0o755), ("var", 0o755),
            ("var/tmp", 0o1777), ("var/log", 0o755), ("var/cache", 0o755), ("var/lib", 0o755), ("run", 0o755),
            ("mnt", 0o755), ("opt", 0o755), ("srv", 0o755),
        ]
        for (path, mode) in directories {
            let full = path.isEmpty ? root : root + "/" + path
            if mkdir(full, mode) != 0 && errno != EEXIST { throw RuntimeFailure.system("mkdir \(path)", errno) }
            chmod(full, mode)
            let isUserHome = path == "home/user"
            lchown(full, owner + (isUserHome ? 1000 : 0), group + (isUserHome ? 1000 : 0))
        }
        let links = [
            ("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64"), ("sbin", "usr/sbin"),
            ("etc/os-release", "../usr/lib/os-release"), ("etc/localtime", "/usr/share/zoneinfo/Etc/UTC"),
            ("etc/mtab", "/proc/self/mounts"),
        ]
        for (path, target) in links { try link(root + "/" + path, to: target, owner: owner, group: group) }

        let files: [(String, String)] = [
            ("etc/passwd", """
                root:x:0:0:root:/root:/bin/bash
                user:x:1000:1000:user:/home/user:/bin/bash
                nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin

                """),
            ("etc/group", "root:x:0:\ntty:x:5:\nusers:x:100:user\nuser:x:1000:\nnogroup:x:65534:\n"),
            ("etc/shadow", "root:*:19000:0:99999:7:::\nuser:*:19000:0:99999:7:::\n"),
            ("etc/hosts", "127.0.0.1\tlocalhost sandbox\n::1\tlocalhost ip6-localhost ip6-loopback sandbox\n"),
            ("etc/hostname", "sandbox\n"),
            ("etc/resolv.conf", "# This sandbox has no network beyond its own loopback.\n"),
            ("etc/nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n"),
            ("etc/shells", "/bin/sh\n/bin/bash\n/usr/bin/bash\n"),
            ("etc/profile", "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"),
        ]
        for (path, contents) in files { try write(root + "/" + path, contents, owner: owner, group: group) }
        chmod(root + "/etc/shadow", 0o640)

        for path in ["etc/ld.so.cache", "etc/ld.so.conf", "etc/ssl/certs/ca-certificates.crt", "etc/services", "etc/protocols", "etc/mime.types"] {
            if let data = FileManager.default.contents(atPath: "/" + path) {
                try write(root + "/" + path, data, owner: owner, group: group)
            }
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/etc/ld.so.conf.d")) ?? [] {
            if let data = FileManager.default.contents(atPath: "/etc/ld.so.conf.d/" + name) {
                try write(root + "/etc/ld.so.conf.d/" + name, data, owner: owner, group: group)
            }
        }
        // Debian's /usr/bin links many tools (awk, editor, pager, …) through /etc/alternatives.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/etc/alternatives")) ?? [] {
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/etc/alternatives/" + name) {
                try link(root + "/etc/alternatives/" + name, to: target, owner: owner, group: group)
            }
        }
    }

    private static func link(_ path: String, to target: String, owner: uid_t, group: gid_t) throws {
        if symlink(target, path) != 0 && errno != EEXIST { throw RuntimeFailure.system("symlink", errno) }
        lchown(path, owner, group)
    }

    private static func write(_ path: String, _ contents: String, owner: uid_t, group: gid_t) throws {
        try write(path, Data(contents.utf8), owner: owner, group: group)
    }

    private static func write(_ path: String, _ data: Data, owner: uid_t, group: gid_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw RuntimeFailure.system("open", errno) }
        defer { close(fd) }
        let written = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == data.count else { throw RuntimeFailure.system("write", errno) }
        fchown(fd, owner, group)
    }

    /// Gives every file under `path` (not following links) to the sandbox's id range: a file the
    /// host owns as uid N becomes `uidBase + N` if N is below the range size, else the sandbox's root.
    /// By descriptor, never by path (`TreeOwnership`): the tree is the tenant's. Best effort, as a
    /// file that vanishes meanwhile is no reason to refuse a start.
    static func chownTree(_ path: String, uidBase: UInt32, fromBase oldBase: UInt32?) {
        let base = UInt32(uidBase)
        let ownership = TreeOwnership { id in
            if let oldBase, id >= oldBase, id < oldBase + 65536 { return base + (id - oldBase) }
            return id >= base && id < base + 65536 ? id : base
        }
        _ = try? ownership.apply(path: path)
    }
}
