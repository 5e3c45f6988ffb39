import FileAPI

/// The bounds of file watching, from `HostConfiguration`.
struct WatchLimits: Sendable {
    /// Directories watched per project at most (`SANDBOX_HOST_MAX_WATCHES`); past it the walk
    /// stops and the project's clients get `overflow` with reason `watch_limit`.
    var maxWatches = 8_192
    /// Levels below a client's base that are watched at most, like the recursive walks.
    var maxDepth = WorkspaceRoot.defaultMaxDepth
}
