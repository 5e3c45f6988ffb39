import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A few disk images of the default size made ahead, so creating a project does not wait for
/// mkfs: `DATA_DIR/disks/pool/<MB>m-<inodes per MB>i-<random>.img`.
///
/// One thread of its own makes them (never the cooperative pool or NIO's thread pool); `take`
/// hands one over and wakes it to make the next. Images from an earlier run are reused when
/// their size matches; half-made ones (`.making-*`) and other sizes are removed at start.
final class DiskImagePool: Sendable {
    let directory: String
    let image: DiskImage
    /// How many ready images to keep.
    let target: Int
    private struct State {
        var ready: [String] = []
        var started = false
        var stopped = false
    }
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)

    init(directory: String, image: DiskImage, target: Int) {
        self.directory = directory
        self.image = image
        self.target = max(0, min(target, 16))
        mkdir(directory, 0o700)
        let prefix = Self.prefix(image)
        var ready: [String] = []
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted() {
            if name.hasPrefix(prefix) && name.hasSuffix(".img") && ready.count < self.target {
                ready.append(directory + "/" + name)
            } else {
                unlink(directory + "/" + name)
            }
        }
        state.withLock { $0.ready = ready }
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

    /// A ready image of `wanted`'s size, now the caller's to rename; nil when none is ready.
    func take(_ wanted: DiskImage) -> String? {
        guard wanted.megabytes == image.megabytes, wanted.inodesPerMegabyte == image.inodesPerMegabyte else { return nil }
        let path = state.withLock { $0.ready.isEmpty ? nil : $0.ready.removeFirst() }
        if path != nil { wake.signal() }
        return path
    }

    /// Ends the maker thread (after the image it is making, if any).
    func stop() {
        state.withLock { $0.stopped = true }
        wake.signal()
    }

    var readyCount: Int { state.withLock { $0.ready.count } }

    private func fill() {
        var failures = 0
        while true {
            let missing = state.withLock { $0.stopped ? -1 : target - $0.ready.count }
            if missing < 0 { return }
            if missing == 0 {
                wake.wait()
                continue
            }
            let random = Identifier.randomHex(bytes: 8)
            let making = directory + "/.making-" + random
            let ready = directory + "/" + Self.prefix(image) + random + ".img"
            do {
                try image.make(at: making)
                guard rename(making, ready) == 0 else { throw RuntimeFailure.system("rename", errno) }
                failures = 0
                let keep = state.withLock { state -> Bool in
                    guard !state.stopped else { return false }
                    state.ready.append(ready)
                    return true
                }
                if !keep { unlink(ready) }
            } catch {
                unlink(making)
                failures += 1
                // mkfs missing or the disk full: try again later, not in a loop.
                _ = wake.wait(timeout: .now() + .seconds(min(60, 1 << min(failures, 6))))
            }
        }
    }
}
