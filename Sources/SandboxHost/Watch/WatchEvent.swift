/// One change a file watch reports, as the contract writes it:
/// `{"type":"create"|"modify"|"delete"|"rename","path","is_dir","old_path"?}`, paths inside
/// `/workspace`, never a host path; or `{"type":"overflow","reason"}`, after which the client
/// should list again (the reasons say what was lost).
struct WatchEvent: Sendable, Equatable {
    enum Kind: String, Sendable {
        case create, modify, delete, rename, overflow
    }

    /// Why an `overflow` was sent.
    enum Overflow: String, Sendable {
        /// The kernel's queue of this project's events overflowed (IN_Q_OVERFLOW): changes were lost.
        case kernelQueue = "kernel_queue"
        /// This client fell behind and its bounded queue filled: its pending events were dropped.
        case clientQueue = "client_queue"
        /// The project's watch budget (`SANDBOX_HOST_MAX_WATCHES`, or the host's inotify limit) is
        /// used up: some directories are not watched, and changes in them are not reported.
        case watchLimit = "watch_limit"
        /// The client reconnected with `Last-Event-ID`: changes are not kept, so what happened
        /// while it was away is unknown.
        case resumed
    }

    let kind: Kind
    let path: String
    let isDirectory: Bool
    var oldPath: String?
    var reason: Overflow?

    static func overflow(_ reason: Overflow) -> WatchEvent {
        WatchEvent(kind: .overflow, path: "", isDirectory: false, reason: reason)
    }

    /// What one event holds of a client's queue budget.
    var cost: Int { 64 + path.utf8.count + (oldPath?.utf8.count ?? 0) }

    var payload: [String: Any] {
        guard kind != .overflow else { return ["type": kind.rawValue, "reason": reason?.rawValue ?? ""] }
        var payload: [String: Any] = ["type": kind.rawValue, "path": path, "is_dir": isDirectory]
        if let oldPath { payload["old_path"] = oldPath }
        return payload
    }
}
