import FileAPI
import Foundation
import Logging
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// Where each project's files live on the host: `DATA_DIR/workspaces/<project_id>/`, the
/// project's volume (its disk image, mounted; see `ProjectVolumes`), holding `workspace/`
/// (which the sandbox mounts as `/workspace`), `sandbox/` (its writable root layers) and
/// `.staging/` (uploads on their way in).
public struct WorkspaceStore: Sendable {
    public let root: String
    let threadPool: NIOThreadPool
    /// nil: plain directories, no disk budget (`SANDBOX_HOST_DISK_IMAGES=0`).
    let volumes: ProjectVolumes?

    public init(root: String, threadPool: NIOThreadPool = .singleton) {
        self.init(root: root, threadPool: threadPool, volumes: nil)
    }

    init(root: String, threadPool: NIOThreadPool = .singleton, volumes: ProjectVolumes?) {
        self.root = root
        self.threadPool = threadPool
        self.volumes = volumes
    }

    /// With a disk image per project (`ProjectVolumes`) of `diskMB`, in `imagesDirectory`: every
    /// project in `projectIDs` mounted (as a killed host left it, or now), the others' volumes
    /// swept, and the pool of `poolSize` ready images started.
    public init(
        root: String, imagesDirectory: String, diskMB: Int, inodesPerMB: Int, poolSize: Int,
        keeping projectIDs: Set<String>, logger: Logger
    ) {
        let volumes = ProjectVolumes(
            imagesDirectory: imagesDirectory, mountRoot: root, image: DiskImage(megabytes: diskMB, inodesPerMegabyte: inodesPerMB),
            poolSize: poolSize)
        volumes.recover(keeping: projectIDs, logger: logger)
        volumes.pool?.start()
        self.init(root: root, volumes: volumes)
    }

    /// Whether each project has a disk image of its own (a budget enforced by its filesystem).
    public var usesDiskImages: Bool { volumes != nil }

    /// Unmounts every project's volume (at shutdown); nothing without disk images.
    public func unmountVolumes() { volumes?.unmountAll() }

    public func path(projectID: String) -> String { volumePath(projectID: projectID) + "/workspace" }
    /// The project's volume: the mount point of its disk image.
    func volumePath(projectID: String) -> String { root + "/" + projectID }
    /// Where uploads to this project are staged: on its volume, so they link into place.
    public func stagingPath(projectID: String) -> String { volumePath(projectID: projectID) + "/" + ProjectVolumes.staging }
    /// The directory of the project's sandbox's writable layers (`SandboxPaths`), on its volume.
    func layersPath(projectID: String) -> String { volumePath(projectID: projectID) + "/sandbox" }

    /// Blocking: mounts the project's volume if it is not mounted (see `ProjectVolumes.ensureMounted`).
    public func ensureVolume(projectID: String) throws {
        try volumes?.ensureMounted(projectID)
    }

    /// Makes the project's volume (mkfs and mount, or a ready one from the pool) on a thread of
    /// its own: a slow disk holds this project's creation, not the shared thread pool's two
    /// threads that every file route uses.
    public func create(projectID: String) async throws {
        let (volume, volumes) = (volumePath(projectID: projectID), volumes)
        try await DedicatedThread.run("create volume") {
            if let volumes { return try volumes.create(projectID) }
            for path in [volume + "/workspace", volume + "/sandbox", volume + "/" + ProjectVolumes.staging] {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            }
        }
    }

    /// Removes the workspace and everything in it; symlinks inside are removed, never followed.
    /// On a thread of its own: the tree's size is the tenant's. A volume is unmounted and its
    /// image removed first, so nothing inside is walked.
    public func remove(projectID: String) async throws {
        let (path, volumes) = (volumePath(projectID: projectID), volumes)
        try await DedicatedThread.run("remove workspace") {
            try volumes?.destroy(projectID)
            try Self.removeTree(path)
        }
    }

    /// Removes a project's other tree (its deployments), links not followed.
    public func removeTree(_ path: String) async throws {
        try await DedicatedThread.run("remove tree") { try Self.removeTree(path) }
    }

    /// Removes workspaces whose project no longer exists (a crash between the row's delete and
    /// the files' removal leaves one behind). Answers how many it removed.
    public func removeOrphans(keeping projectIDs: Set<String>) throws -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        var removed = 0
        var rootInfo = stat()
        lstat(root, &rootInfo)
        for name in names where !projectIDs.contains(name) {
            // Still mounted (a killed host's): `ProjectVolumes.recover` unmounts it, never a walk into it.
            var info = stat()
            if lstat(root + "/" + name, &info) == 0, info.st_dev != rootInfo.st_dev { continue }
            try Self.removeTree(root + "/" + name)
            removed += 1
        }
        return removed
    }

    /// Removes `path` (missing: nothing to do) by descriptor, never following a link, however
    /// the tree changes meanwhile (`TreeRemover`); only `path`'s parent is opened by path.
    static func removeTree(_ path: String) throws {
        try TreeRemover().remove(path: path)
    }
}
