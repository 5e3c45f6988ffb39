import Synchronization

/// The projects being watched: one `ProjectWatcher` (one inotify instance, one thread) per
/// project with at least one client, shared by all of them, stopped when the last one goes
/// (its descriptor closed, every watch gone). Thread-safe.
final class FileWatchRegistry: Sendable {
    private struct Entry {
        let watcher: ProjectWatcher
        var clients: Int
    }

    let limits: WatchLimits
    private let entries = Mutex<[String: Entry]>([:])

    init(limits: WatchLimits) {
        self.limits = limits
    }

    /// Starts `subscription` on the project's watcher (made if none); answers the watcher, to
    /// `release` it with. Throws 404 / 400 for the path, 503 when the host has no inotify
    /// instance left.
    func watch(projectID: String, workspace: String, _ subscription: WatchSubscription) async throws -> ProjectWatcher {
        let limits = self.limits
        let watcher = try entries.withLock { entries throws -> ProjectWatcher in
            if var entry = entries[projectID] {
                entry.clients += 1
                entries[projectID] = entry
                return entry.watcher
            }
            let watcher = try ProjectWatcher(workspace: workspace, limits: limits)
            entries[projectID] = Entry(watcher: watcher, clients: 1)
            return watcher
        }
        do {
            try await watcher.subscribe(subscription)
        } catch {
            release(projectID: projectID, watcher, subscription)
            throw error
        }
        return watcher
    }

    /// The client is gone; the last one stops the project's watcher.
    func release(projectID: String, _ watcher: ProjectWatcher, _ subscription: WatchSubscription) {
        watcher.unsubscribe(subscription)
        let last = entries.withLock { entries -> Bool in
            guard var entry = entries[projectID], entry.watcher === watcher else { return false }
            entry.clients -= 1
            guard entry.clients == 0 else {
                entries[projectID] = entry
                return false
            }
            entries.removeValue(forKey: projectID)
            return true
        }
        if last { watcher.stop() }
    }

    /// Projects with a watcher now.
    var watchedProjects: Int { entries.withLock { $0.count } }
}
