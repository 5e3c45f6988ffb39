import CSandbox
import Foundation
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Each project's disk: `DATA_DIR/disks/<project_id>.img`, a sparse ext4 image on an
/// auto-clearing loop device, mounted nosuid,nodev,discard,noinit_itable at `DATA_DIR/workspaces/<project_id>`
/// for the project's whole life (file routes work while its sandbox is stopped).
///
/// The mount holds `workspace/` (the sandbox's `/workspace`), `sandbox/` (the writable layers
/// of its root filesystem) and `.staging/` (uploads on their way in, on the same file system so
/// they can be linked into place), so everything a sandbox or its API writes shares one budget
/// of bytes and inodes: past it, writes fail with ENOSPC.
///
/// The kernel holds the state (which image is mounted where). Changes (create, mount, destroy)
/// to one project are serialised by that project's lock (`KeyedLocks`): two requests mounting
/// one image at once would put one file system on two loop devices and corrupt it. Different
/// projects change at the same time, so one slow mkfs or mount holds up its own project only
/// (concurrent loop attaches are safe: `csb_loop_attach` retries a device taken under it).
/// Every call blocks (mkfs, mount, sysfs, the project's lock): run it on a thread of its own
/// (`DedicatedThread`), not the cooperative pool nor the shared thread pool.
final class ProjectVolumes: Sendable {
    let imagesDirectory: String
    let mountRoot: String
    let image: DiskImage
    let pool: DiskImagePool?
    private let changing = KeyedLocks()

    init(imagesDirectory: String, mountRoot: String, image: DiskImage, poolSize: Int) {
        mkdir(imagesDirectory, 0o700)
        mkdir(mountRoot, 0o755)
        // Canonical: the kernel reports mount points and backing files by their real paths.
        self.imagesDirectory = Self.realPath(imagesDirectory)
        self.mountRoot = Self.realPath(mountRoot)
        self.image = image
        pool = poolSize > 0 ? DiskImagePool(directory: imagesDirectory + "/pool", image: image, target: poolSize) : nil
    }

    func imagePath(_ projectID: String) -> String { imagesDirectory + "/" + projectID + ".img" }
    func mountPoint(_ projectID: String) -> String { mountRoot + "/" + projectID }

    /// Whether something is mounted at the project's mount point (its device differs from the
    /// mount root's).
    func isMounted(_ projectID: String) -> Bool {
        var point = stat(), root = stat()
        guard lstat(mountPoint(projectID), &point) == 0, lstat(mountRoot, &root) == 0 else { return false }
        return point.st_dev != root.st_dev
    }

    /// Makes the project's image (from the pool when one of the right size is ready) and mounts
    /// it; mounts it only, when it exists. Refuses a project whose files predate disk images
    /// (mounting over them would hide them).
    func create(_ projectID: String) throws {
        try changing.withLock(projectID) { try createLocked(projectID) }
    }

    /// Mounts the project's volume unless it is mounted (a mount that failed at start is tried
    /// again at first need): a sandbox or an upload never lands on the host's disk unbounded.
    /// Never makes an image: a request racing its project's delete would otherwise mount a new
    /// one (or the old one again) for a project that is gone. Only `create` and the start make them.
    func ensureMounted(_ projectID: String) throws {
        guard !isMounted(projectID) else { return }
        try changing.withLock(projectID) {
            guard access(imagePath(projectID), F_OK) == 0 else { throw RuntimeError.notFound("project") }
            try mountLocked(projectID)
        }
    }

    private func createLocked(_ projectID: String) throws {
        let path = imagePath(projectID)
        if access(path, F_OK) != 0, !isMounted(projectID),
           let entries = try? FileManager.default.contentsOfDirectory(atPath: mountPoint(projectID)), !entries.isEmpty {
            throw RuntimeError(.sandboxUnavailable, "the project's files predate disk images; they were left as they are")
        }
        if access(path, F_OK) != 0 {
            if let pool, let ready = pool.take(image) {
                // A ready-made image, mounted: renamed into place (the loop device follows the
                // file), its mount cloned to the project's mount point. Should the clone fail,
                // the image is in place and `mount` below attaches it the ordinary way.
                let renamed = rename(ready.image, path) == 0
                if renamed && (mkdir(mountPoint(projectID), 0o755) == 0 || errno == EEXIST) {
                    _ = csb_mount_clone(ready.mount, mountPoint(projectID))
                }
                pool.release(ready, unlinkImage: !renamed)
            }
            if access(path, F_OK) != 0 {
                let making = imagesDirectory + "/.making-" + projectID
                unlink(making)
                try image.make(at: making)
                guard rename(making, path) == 0 else {
                    let code = errno
                    unlink(making)
                    throw RuntimeFailure.system("rename disk image", code)
                }
            }
        }
        try mountLocked(projectID)
    }

    /// Mounts the project's image if it is not mounted, and empties its staging directory
    /// (what a killed host was receiving was never acknowledged).
    private func mountLocked(_ projectID: String) throws {
        let point = mountPoint(projectID)
        if mkdir(point, 0o755) != 0 && errno != EEXIST { throw RuntimeFailure.system("mkdir mount point", errno) }
        if !isMounted(projectID) { try Self.attachAndMount(imagePath(projectID), at: point) }
        try? WorkspaceStore.removeTree(point + "/" + Self.staging)
        try Self.makeLayout(point)
    }

    /// Attaches `image` to a loop device and mounts its file system at `point`.
    static func attachAndMount(_ image: String, at point: String) throws {
        let (device, descriptor) = try LoopDevice.attach(image: image)
        // Closing the device's last descriptor without a mount detaches it (auto-clear).
        defer { close(descriptor) }
        let rc = csb_mount_image(device, point, "discard,noinit_itable")
        guard rc == 0 else { throw RuntimeFailure.system("mount \(device)", -rc) }
    }

    /// The directories of a volume: `workspace/`, `sandbox/`, `.staging/`.
    static func makeLayout(_ point: String) throws {
        for (name, mode) in [("workspace", 0o755), ("sandbox", 0o700), (staging, 0o700)] as [(String, mode_t)] {
            if mkdir(point + "/" + name, mode) != 0 && errno != EEXIST { throw RuntimeFailure.system("mkdir \(name)", errno) }
        }
    }

    static let staging = ".staging"

    /// Unmounts the project's volume (lazily if a request still holds a file in it: the loop
    /// device detaches when the last one closes) and removes its image.
    func destroy(_ projectID: String) throws {
        // Both under the lock: a mount between the unmount and the unlink would bring it back.
        try changing.withLock(projectID) {
            try unmountLocked(projectID)
            if unlink(imagePath(projectID)) != 0 && errno != ENOENT { throw RuntimeFailure.system("unlink disk image", errno) }
        }
    }

    private func unmountLocked(_ projectID: String) throws {
        let point = mountPoint(projectID)
        // Stacked mounts (a killed host's and a new one) come off one by one; bounded.
        for _ in 0..<8 where isMounted(projectID) {
            var rc = csb_unmount(point, 0)
            if rc == -EBUSY { rc = csb_unmount(point, 1) }
            guard rc == 0 || rc == -EINVAL || rc == -ENOENT else { throw RuntimeFailure.system("unmount \(point)", -rc) }
        }
        // Never go on to remove a tree that is still a mounted volume.
        if isMounted(projectID) { throw RuntimeFailure.system("unmount \(point): still mounted", EBUSY) }
    }

    /// At start: keeps the volumes a previous run left mounted where they belong, unmounts the
    /// rest (deleted projects, wrong images), detaches loop devices of our images that nothing
    /// mounts, removes images of projects that are gone, and mounts every project's volume
    /// (making one for a project that has none). Bounded by the mounts, loop devices and
    /// projects on this host.
    func recover(keeping projectIDs: Set<String>, logger: Logger) {
        var mountedDevices = Set<String>()
        // One sysfs scan, not one per mount: O(mounts + loop devices).
        let loops = LoopDevice.attached()
        let byDevice = Dictionary(loops.map { ($0.device, $0) }, uniquingKeysWith: { first, _ in first })
        for entry in MountTable.read() where Self.parent(entry.mountPoint) == mountRoot {
            let projectID = String(entry.mountPoint.dropFirst(mountRoot.count + 1))
            let backing = byDevice[entry.source]
            if projectIDs.contains(projectID), let backing, !backing.deleted, backing.backingFile == imagePath(projectID) {
                mountedDevices.insert(entry.source)
                continue
            }
            logger.info("unmounting a stale project volume", metadata: ["mount": "\(entry.mountPoint)"])
            _ = csb_unmount(entry.mountPoint, 1)
            if !projectIDs.contains(projectID) { rmdir(entry.mountPoint) }
        }
        for loop in loops where Self.parent(loop.backingFile) == imagesDirectory && !mountedDevices.contains(loop.device) {
            logger.info("detaching a stale loop device", metadata: ["device": "\(loop.device)"])
            try? LoopDevice.detach(loop.device)
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: imagesDirectory)) ?? [] {
            let id = name.hasSuffix(".img") ? String(name.dropLast(4)) : nil
            if name.hasPrefix(".making-") || (id.map { !projectIDs.contains($0) } ?? false) {
                unlink(imagesDirectory + "/" + name)
            }
        }
        for projectID in projectIDs.sorted() {
            do {
                try create(projectID)
            } catch {
                logger.error("cannot mount a project's volume", metadata: ["project": "\(projectID)", "error": "\(error)"])
            }
        }
    }

    /// Unmounts every project volume (at shutdown, and when a test removes its data directory).
    func unmountAll() {
        pool?.stop()
        for entry in MountTable.read() where Self.parent(entry.mountPoint) == mountRoot {
            var rc = csb_unmount(entry.mountPoint, 0)
            if rc == -EBUSY { rc = csb_unmount(entry.mountPoint, 1) }
        }
    }

    static func realPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }
}
