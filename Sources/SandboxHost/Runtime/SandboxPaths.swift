import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a sandbox's own files live on the host: `DATA_DIR/sandboxes/<id>/` with `root/` (its
/// root filesystem) and `usr/upper`, `usr/work` (its writable layer over the host's `/usr`).
struct SandboxPaths: Sendable {
    let directory: String

    init(dataDir: String, sandboxID: String) {
        directory = dataDir + "/sandboxes/" + sandboxID
    }

    var root: String { directory + "/root" }
    var usrUpper: String { directory + "/usr/upper" }
    var usrWork: String { directory + "/usr/work" }

    /// Builds the root filesystem on first start and gives the workspace to the sandbox's id range.
    func prepare(uidBase: UInt32, workspace: String) throws {
        let fileManager = FileManager.default
        if !fileManager.fileExists(atPath: root + "/etc/passwd") {
            try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try RootfsBuilder.build(at: root, uidBase: uidBase)
        }
        try fileManager.createDirectory(atPath: usrUpper, withIntermediateDirectories: true)
        try fileManager.createDirectory(atPath: usrWork, withIntermediateDirectories: true)
        try fileManager.createDirectory(atPath: workspace, withIntermediateDirectories: true)
        var info = stat()
        if lstat(workspace, &info) == 0, info.st_uid != uidBase {
            let previous = info.st_uid >= 1 << 20 ? UInt32(info.st_uid) : nil
            RootfsBuilder.chownTree(workspace, uidBase: uidBase, fromBase: previous)
        }
    }

    func remove() throws {
        if FileManager.default.fileExists(atPath: directory) {
            try FileManager.default.removeItem(atPath: directory)
        }
    }
}
