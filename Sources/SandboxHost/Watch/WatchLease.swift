/// A client's hold on its project's watcher, released when the lease goes: when the response
/// that owns it is done, however it ended (the client left, the stream ended, or the body was
/// never written at all, e.g. the connection closed before the head went out).
final class WatchLease: Sendable {
    let subscription: WatchSubscription
    private let registry: FileWatchRegistry
    private let projectID: String
    private let watcher: ProjectWatcher

    init(registry: FileWatchRegistry, projectID: String, watcher: ProjectWatcher, subscription: WatchSubscription) {
        self.registry = registry
        self.projectID = projectID
        self.watcher = watcher
        self.subscription = subscription
    }

    deinit { registry.release(projectID: projectID, watcher, subscription) }
}
