import CSandbox
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The file watch of one project: one inotify instance shared by all of the project's clients,
/// read by a thread of its own (`WatchEngine`: the walks, the events, the fan-out; file I/O on a
/// tenant's volume never runs on the cooperative pool or an event loop). Clients come and go
/// through commands the thread runs between reads; `stop` (when the last client went) ends the
/// thread, which closes the inotify descriptor, and every watch goes with it.
final class ProjectWatcher: Sendable {
    enum Command: Sendable {
        case subscribe(WatchSubscription, @Sendable (HostError?) -> Void)
        case unsubscribe(WatchSubscription)
        case stop
    }

    private struct Commands {
        var pending: [Command] = []
        var stopped = false
    }

    private let commands = Mutex(Commands())
    let wakeRead: Int32
    private let wakeWrite: Int32

    /// Starts the thread; 503 when the host has no inotify instance left (`max_user_instances`).
    init(workspace: String, limits: WatchLimits) throws {
        guard let inotify = Inotify() else {
            throw HostError(
                .sandboxUnavailable, "the host cannot watch more files right now; try again later",
                cause: FileSystemCallFailure(call: "inotify_init1", code: errno), retryAfterSeconds: 5)
        }
        var fds: [Int32] = [-1, -1]
        guard csb_pipe(&fds) == 0 else {
            throw HostError.internalError("cannot make the watcher's wake-up pipe", cause: FileSystemCallFailure(call: "pipe2", code: errno))
        }
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        let thread = Thread { [self] in
            WatchEngine(inotify: inotify, workspace: workspace, limits: limits).run(self)
        }
        thread.name = "file watch"
        thread.start()
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
    }

    /// Adds `subscription` once its directory and what lies below it are watched; throws 404 /
    /// 400 for a path that is missing, a file or a link.
    func subscribe(_ subscription: WatchSubscription) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let sent = send(.subscribe(subscription) { error in
                if let error { continuation.resume(throwing: error) } else { continuation.resume() }
            })
            if !sent { continuation.resume(throwing: HostError(.sandboxUnavailable, "the project's file watch is closing; try again")) }
        }
    }

    func unsubscribe(_ subscription: WatchSubscription) { send(.unsubscribe(subscription)) }

    func stop() { send(.stop) }

    /// Queues `command` and wakes the thread; false once the thread stopped.
    @discardableResult
    private func send(_ command: Command) -> Bool {
        let sent = commands.withLock { commands -> Bool in
            guard !commands.stopped else { return false }
            commands.pending.append(command)
            return true
        }
        if sent {
            var byte: UInt8 = 1
            _ = write(wakeWrite, &byte, 1)  // EAGAIN: a wake-up is already pending
        }
        return sent
    }

    /// What the thread runs next; after `stop` nothing more is queued, and subscribes queued
    /// behind it are refused.
    func takeCommands() -> [Command] {
        commands.withLock { commands in
            defer { commands.pending.removeAll() }
            if commands.pending.contains(where: { if case .stop = $0 { true } else { false } }) { commands.stopped = true }
            return commands.pending
        }
    }

    func drainWake() {
        var bytes = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &bytes, bytes.count) > 0 {}
    }
}
