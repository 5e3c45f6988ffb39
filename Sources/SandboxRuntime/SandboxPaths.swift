import FileAPI
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a sandbox's own files live on the host, `DATA_DIR/sandboxes/<id>/`:
/// `upper/{root,usr}` and `work/{root,usr}`, its writable layers over the image and the host's
/// `/usr`; `root/`, `lower/{root,usr}` and `proc/`, empty mount points sandbox-init uses.
struct SandboxPaths: Sendable {
    let directory: String

    init(dataDir: String, sandboxID: String) {
        directory = dataDir + "/sandboxes/" + sandboxID
    }

    /// The layers in `directory`: on the project's volume, so they count against its disk budget.
    init(directory: String) {
        self.directory = directory
    }

    /// Creates the layer directories (cheap: a few mkdirs, the image is shared) and gives the
    /// workspace to the sandbox's id range.
    func prepare(uidBase: UInt32, workspace: String) throws {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        for name in ["root", "lower", "lower/root", "lower/usr", "upper", "upper/root", "upper/usr", "work", "work/root", "work/usr", "proc"] {
            let path = directory + "/" + name
            if mkdir(path, 0o755) != 0 && errno != EEXIST { throw RuntimeFailure.system("mkdir \(name)", errno) }
        }
        // The top of each writable layer is what `/` and `/usr` show: owned by the sandbox's root.
        for name in ["upper/root", "upper/usr"] { lchown(directory + "/" + name, uidBase, uidBase) }
        try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
        var info = stat()
        if lstat(workspace, &info) == 0, info.st_uid != uidBase {
            let previous = info.st_uid >= 1 << 20 ? UInt32(info.st_uid) : nil
            RootfsBuilder.chownTree(workspace, uidBase: uidBase, fromBase: previous)
        }
    }

    /// Removes the sandbox's directory: its upper layers are the tenant's, so by descriptor,
    /// links never followed (`TreeRemover`). Call only when none of its processes is left.
    func remove() throws {
        try TreeRemover().remove(path: directory)
    }
}
