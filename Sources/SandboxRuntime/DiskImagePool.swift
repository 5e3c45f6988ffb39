import CSandbox
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A few disk images of the default size made and mounted ahead, so creating a project waits
/// for neither mkfs nor the loop device and mount (together 20-60 ms on this VM):
/// `DATA_DIR/disks/pool/<MB>m-<inodes per MB>i-<random>.img`, mounted at `….mnt` beside it.
/// A project takes one by renaming the image and cloning the mount to its mount point.
///
/// One thread of its own makes them (never the cooperative pool or NIO's thread pool); `take`
/// hands one over and wakes it to make the next. A start removes whatever an earlier run left
/// here (images are cheap to make again; a half-made one is never trusted).
final class DiskImagePool: Sendable {
    struct Ready: Sendable {
        let image: String
        let mount: String
    }

    let directory: String
    let image: DiskImage
    /// How many ready images to keep.
    let target: Int
    private struct State {
        var ready: [Ready] = []
        var started = false
        var stopped = false
        var finished = false
    }
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let exited = DispatchSemaphore(value: 0)

    init(directory: String, image: DiskImage, target: Int) {
        mkdir(directory, 0o700)
        self.directory = ProjectVolumes.realPath(directory)
        self.image = image
        self.target = max(0, min(target, 16))
        for entry in MountTable.read() where entry.mountPoint.hasPrefix(self.directory + "/") {
            _ = csb_unmount(entry.mountPoint, 1)
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: self.directory)) ?? [] {
            let path = self.directory + "/" + name
            if unlink(path) != 0 { rmdir(path) }
        }
    }

    static func prefix(_ image: DiskImage) -> String { "\(image.megabytes)m-\(image.inodesPerMegabyte)i-" }

    /// Starts the maker thread (once).
    func start() {
        guard target > 0, state.withLock({ state in
            defer { state.started = true }
            return !state.started && !state.stopped
        }) else { return }
        let thread = Thread { [self] in fill() }
        thread.name = "disk-image-pool"
        thread.start()
    }

    /// A ready image of `wanted`'s size, mounted; the caller renames the image and clones the
    /// mount, then `release`s it. nil when none is ready.
    func take(_ wanted: DiskImage) -> Ready? {
        guard wanted.megabytes == image.megabytes, wanted.inodesPerMegabyte == image.inodesPerMegabyte else { return nil }
        let ready = state.withLock { $0.ready.isEmpty ? nil : $0.ready.removeFirst() }
        if ready != nil { wake.signal() }
        return ready
    }

    /// Unmounts a taken image's pool mount (its clone keeps the file system) and removes the
    /// mount point; `unlinkImage` when the image was not taken over.
    func release(_ ready: Ready, unlinkImage: Bool) {
        var rc = csb_unmount(ready.mount, 0)
        if rc == -EBUSY { rc = csb_unmount(ready.mount, 1) }
        rmdir(ready.mount)
        if unlinkImage { unlink(ready.image) }
    }

    /// Ends the maker thread and removes the ready images (at shutdown: no mount stays behind).
    func stop() {
        let ready = state.withLock { state -> [Ready] in
            state.stopped = true
            defer { state.ready = [] }
            return state.ready
        }
        wake.signal()
        // Wait (bounded) for the image being made: nothing may be mounted after this returns.
        if state.withLock({ $0.started && !$0.finished }) { _ = exited.wait(timeout: .now() + .seconds(10)) }
        for entry in ready { release(entry, unlinkImage: true) }
    }

    var readyCount: Int { state.withLock { $0.ready.count } }

    private func fill() {
        defer {
            state.withLock { $0.finished = true }
            exited.signal()
        }
        var failures = 0
        while true {
            let missing = state.withLock { $0.stopped ? -1 : target - $0.ready.count }
            if missing < 0 { return }
            if missing == 0 {
                wake.wait()
                continue
            }
            let random = String(UInt64.random(in: .min ... .max) | 1 << 63, radix: 16)  // 16 hex digits
            let making = directory + "/.making-" + random
            let ready = Ready(image: directory + "/" + Self.prefix(image) + random + ".img", mount: directory + "/" + Self.prefix(image) + random + ".mnt")
            do {
                try image.make(at: making)
                guard rename(making, ready.image) == 0 else { throw RuntimeFailure.system("rename", errno) }
                guard mkdir(ready.mount, 0o700) == 0 else { throw RuntimeFailure.system("mkdir", errno) }
                try ProjectVolumes.attachAndMount(ready.image, at: ready.mount)
                try ProjectVolumes.makeLayout(ready.mount)
                failures = 0
                let keep = state.withLock { state -> Bool in
                    guard !state.stopped else { return false }
                    state.ready.append(ready)
                    return true
                }
                if !keep { release(ready, unlinkImage: true) }
            } catch {
                unlink(making)
                release(ready, unlinkImage: true)
                failures += 1
                // mkfs missing or the disk full: try again later, not in a loop.
                _ = wake.wait(timeout: .now() + .seconds(min(60, 1 << min(failures, 6))))
            }
        }
    }
}
