import FileAPI
#if canImport(Glibc)
import Glibc
#endif

/// What a project's watch thread runs: adds watches (walking with descriptors, never following
/// a link), turns inotify events into the contract's events, coalesces writes, and hands each
/// event to the clients whose directory, depth and `all` choice cover it. Owns the tree of
/// watched directories, the coalescer and the inotify instance; used by its thread alone.
///
/// Which directories are watched: a client's base and the directories from the workspace down
/// to it (so renames above it keep its paths right), and, for recursive clients, the
/// directories below it, `maxDepth` levels at most, heavy ones only for `all=true` clients,
/// `maxWatches` in all. A directory that appears (created or moved in) is watched when some
/// client wants it, and what it already holds is reported as created (`mkdir -p a/b && touch
/// a/b/c` is not lost). Watches are dropped only when the thread ends (the last client gone),
/// or when their directory leaves the tree.
final class WatchEngine {
    /// A client as the thread sees it: its subscription, its base's wd once attached.
    struct Client {
        let subscription: WatchSubscription
        var base: Int32?
        var toldLimit = false
    }

    /// A file, for coalescing and for the names a new directory's scan reported.
    struct FileKey: Hashable {
        let wd: Int32
        let name: [UInt8]
    }

    /// The first half of a rename, waiting for its second.
    struct PendingMove {
        let event: Inotify.Event
        let deadline: UInt64
    }

    /// How long a move's first half waits for its second before it counts as a move out
    /// (a delete): the kernel queues both together, so this only covers a read that split them.
    static let moveWait: UInt64 = 5_000_000
    /// Names one scan reports at most for the dedup against the new directory's own events.
    static let maxScanned = 65_536
    /// Entries read of one directory at most (a file system's inodes bound it anyway).
    static let maxEntriesPerDirectory = 1_000_000

    // All of it is the watch thread's alone (the type is not Sendable).
    let inotify: Inotify
    let workspace: String
    let limits: WatchLimits
    var tree = WatchTree()
    var clients: [Client] = []
    var coalescer = ModifyCoalescer<FileKey>()
    var pendingMove: PendingMove?
    /// Entries a scan of a new directory reported as created, until the queue is drained: the
    /// directory's watch may report the same creations.
    var scanned = Set<FileKey>()
    var limitReached = false

    init(inotify: Inotify, workspace: String, limits: WatchLimits) {
        self.inotify = inotify
        self.workspace = workspace
        self.limits = limits
    }

    // MARK: The loop

    func run(_ watcher: ProjectWatcher) {
        var stopping = false
        while true {
            for command in watcher.takeCommands() {
                switch command {
                case .subscribe(let subscription, let done):
                    done(stopping ? HostError(.sandboxUnavailable, "the project's file watch is closing; try again") : attach(subscription))
                case .unsubscribe(let subscription):
                    clients.removeAll { $0.subscription === subscription }
                case .stop:
                    stopping = true
                }
            }
            if stopping {
                for client in clients { client.subscription.end() }
                return
            }
            var fds = [pollfd(fd: inotify.fd, events: Int16(POLLIN), revents: 0), pollfd(fd: watcher.wakeRead, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, pollTimeout())
            if ready > 0 && fds[1].revents != 0 { watcher.drainWake() }
            if ready > 0 && fds[0].revents != 0 { readEvents() }
            timers()
        }
    }

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Milliseconds until the next coalesced write or unmatched move is due; -1: none.
    func pollTimeout() -> Int32 {
        let deadlines = [pendingMove?.deadline, coalescer.nextDeadline].compactMap { $0 }
        guard let next = deadlines.min() else { return -1 }
        let now = Self.now()
        guard next > now else { return 0 }
        return Int32(min((next - now + 999_999) / 1_000_000, 60_000))
    }

    func timers() {
        let now = Self.now()
        if let pendingMove, now >= pendingMove.deadline { flushMove() }
        if let next = coalescer.nextDeadline, next <= now {
            for key in coalescer.due(now: now) where tree[key.wd] != nil { emit(.modify, key.wd, key.name, isDirectory: false) }
        }
    }

    /// Reads until the queue is empty (or 64 reads, then commands get a turn).
    func readEvents() {
        for _ in 0..<64 {
            guard let events = inotify.read() else {
                // Every event from before the last scan has been read: its dedup is done.
                scanned.removeAll()
                return
            }
            for event in events { handle(event) }
        }
    }

    // MARK: Clients

    /// Watches the client's base (and the directories down to it) and, if recursive, what lies
    /// below; nil, or why not (404 missing, 400 a file or a link).
    func attach(_ subscription: WatchSubscription) -> HostError? {
        clients.append(Client(subscription: subscription))
        do {
            try attachBase(subscription)
        } catch {
            clients.removeAll { $0.subscription === subscription }
            return error as? HostError ?? HostError.internalError("cannot watch the directory", cause: error)
        }
        if limitReached { tellLimit() }
        return nil
    }

    func attachBase(_ subscription: WatchSubscription) throws {
        var parent: Int32?
        var base: FileDescriptor?
        try WatchDirectory.resolve(workspace: workspace, base: subscription.base) { directory, name in
            guard let wd = watch(directory.raw, parent: parent, name: name ?? []) else {
                throw HostError(.sandboxUnavailable, "this project watches as many directories as it may (\(limits.maxWatches))")
            }
            parent = wd
            base = directory
        }
        guard let wd = parent, let base, let index = clients.firstIndex(where: { $0.subscription === subscription }) else { return }
        clients[index].base = wd
        if subscription.recursive { walk(base, wd: wd, report: false) }
    }

    func tellLimit() {
        for index in clients.indices where !clients[index].toldLimit {
            clients[index].toldLimit = true
            clients[index].subscription.overflow(.watchLimit)
        }
    }

    /// Ends the clients whose base is among `removed` (their directory left the tree): a
    /// `delete` of it (at `paths`, where it was), then the end of the stream.
    func endClients(watching removed: [Int32], paths: [Int32: String]) {
        let gone = Set(removed)
        for client in clients {
            guard let base = client.base, gone.contains(base) else { continue }
            client.subscription.push(WatchEvent(kind: .delete, path: paths[base] ?? client.subscription.base.description, isDirectory: true))
            client.subscription.end()
        }
        clients.removeAll { $0.base.map(gone.contains) ?? false }
    }

    /// Levels from `client`'s base down to directory `wd` (0: the base), or nil when `wd` is not
    /// below it or (without `all`) lies in a heavy directory below it.
    func levels(_ client: Client, to wd: Int32) -> Int? {
        guard let base = client.base else { return nil }
        var current = wd
        var levels = 0
        while current != base {
            guard let node = tree[current], let parent = node.parent, levels < WatchTree.maxChain else { return nil }
            if node.isHeavy && !client.subscription.all { return nil }
            levels += 1
            current = parent
        }
        return levels
    }

    /// Whether an entry of directory `wd` concerns `client`.
    func covers(_ client: Client, _ wd: Int32) -> Bool {
        guard let levels = levels(client, to: wd) else { return false }
        return client.subscription.recursive ? levels + 1 <= limits.maxDepth : levels == 0
    }

    /// Whether directory `name` in `wd` is to be watched: some recursive client wants its entries.
    func wanted(_ wd: Int32, _ name: [UInt8]) -> Bool {
        let heavy = WatchTree.Node.heavy(name)
        return clients.contains { client in
            guard client.subscription.recursive, !heavy || client.subscription.all, let levels = levels(client, to: wd) else { return false }
            return levels + 2 <= limits.maxDepth
        }
    }
}
