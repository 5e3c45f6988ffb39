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
    private struct Client {
        let subscription: WatchSubscription
        var base: Int32?
        var toldLimit = false
    }

    /// A file, for coalescing and for the names a new directory's scan reported.
    private struct FileKey: Hashable {
        let wd: Int32
        let name: [UInt8]
    }

    /// The first half of a rename, waiting for its second.
    private struct PendingMove {
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

    private let inotify: Inotify
    private let workspace: String
    private let limits: WatchLimits
    private var tree = WatchTree()
    private var clients: [Client] = []
    private var coalescer = ModifyCoalescer<FileKey>()
    private var pendingMove: PendingMove?
    /// Entries a scan of a new directory reported as created, until the queue is drained: the
    /// directory's watch may report the same creations.
    private var scanned = Set<FileKey>()
    private var limitReached = false

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

    private static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Milliseconds until the next coalesced write or unmatched move is due; -1: none.
    private func pollTimeout() -> Int32 {
        let deadlines = [pendingMove?.deadline, coalescer.nextDeadline].compactMap { $0 }
        guard let next = deadlines.min() else { return -1 }
        let now = Self.now()
        guard next > now else { return 0 }
        return Int32(min((next - now + 999_999) / 1_000_000, 60_000))
    }

    private func timers() {
        let now = Self.now()
        if let pendingMove, now >= pendingMove.deadline { flushMove() }
        if let next = coalescer.nextDeadline, next <= now {
            for key in coalescer.due(now: now) where tree[key.wd] != nil { emit(.modify, key.wd, key.name, isDirectory: false) }
        }
    }

    /// Reads until the queue is empty (or 64 reads, then commands get a turn).
    private func readEvents() {
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
    private func attach(_ subscription: WatchSubscription) -> HostError? {
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

    private func attachBase(_ subscription: WatchSubscription) throws {
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

    private func tellLimit() {
        for index in clients.indices where !clients[index].toldLimit {
            clients[index].toldLimit = true
            clients[index].subscription.overflow(.watchLimit)
        }
    }

    /// Ends the clients whose base is among `removed` (their directory left the tree): a
    /// `delete` of it (at `paths`, where it was), then the end of the stream.
    private func endClients(watching removed: [Int32], paths: [Int32: String]) {
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
    private func levels(_ client: Client, to wd: Int32) -> Int? {
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
    private func covers(_ client: Client, _ wd: Int32) -> Bool {
        guard let levels = levels(client, to: wd) else { return false }
        return client.subscription.recursive ? levels + 1 <= limits.maxDepth : levels == 0
    }

    /// Whether directory `name` in `wd` is to be watched: some recursive client wants its entries.
    private func wanted(_ wd: Int32, _ name: [UInt8]) -> Bool {
        let heavy = WatchTree.Node.heavy(name)
        return clients.contains { client in
            guard client.subscription.recursive, !heavy || client.subscription.all, let levels = levels(client, to: wd) else { return false }
            return levels + 2 <= limits.maxDepth
        }
    }

    // MARK: Events to clients

    private func emit(_ kind: WatchEvent.Kind, _ wd: Int32, _ name: [UInt8], isDirectory: Bool) {
        var path: String?
        for client in clients where covers(client, wd) {
            if path == nil { path = tree.path(wd, name) }
            guard let path else { return }
            client.subscription.push(WatchEvent(kind: kind, path: path, isDirectory: isDirectory))
        }
    }

    /// A rename as each client sees it: a rename when it sees both sides, a delete or a create
    /// when it sees one.
    private func emitRename(from: Inotify.Event, to: Inotify.Event) {
        let isDirectory = to.isDirectory
        let old = tree.path(from.wd, from.name), new = tree.path(to.wd, to.name)
        for client in clients {
            let before = covers(client, from.wd), after = covers(client, to.wd)
            if before && after, let old, let new {
                client.subscription.push(WatchEvent(kind: .rename, path: new, isDirectory: isDirectory, oldPath: old))
            } else if before, let old {
                client.subscription.push(WatchEvent(kind: .delete, path: old, isDirectory: isDirectory))
            } else if after, let new {
                client.subscription.push(WatchEvent(kind: .create, path: new, isDirectory: isDirectory))
            }
        }
    }

    /// The API writes a file over an existing one through a temporary name beside it
    /// (`AtomicFileWriter`): that name is not reported, and its rename over the file is a `modify`.
    static func isUploadTemporary(_ name: [UInt8]) -> Bool {
        name.count > 9 && name.starts(with: Array(".sbx-".utf8)) && name.suffix(4) == Array(".tmp".utf8)[...]
    }

    private func modified(_ wd: Int32, _ name: [UInt8]) {
        if coalescer.modified(FileKey(wd: wd, name: name), now: Self.now()) { emit(.modify, wd, name, isDirectory: false) }
    }

    /// A coalesced write still unreported for a file about to be deleted or renamed goes first.
    private func flushModify(_ wd: Int32, _ name: [UInt8]) {
        if coalescer.take(FileKey(wd: wd, name: name)) { emit(.modify, wd, name, isDirectory: false) }
    }

    // MARK: inotify events

    private func handle(_ event: Inotify.Event) {
        if let pendingMove, !(event.has(Inotify.movedTo) && event.cookie == pendingMove.event.cookie) { flushMove() }
        if event.has(Inotify.queueOverflow) {
            for client in clients { client.subscription.overflow(.kernelQueue) }
            rewalk()
            return
        }
        if event.has(Inotify.unmount) {
            for client in clients { client.subscription.end() }
            clients.removeAll()
            return
        }
        if event.has(Inotify.ignored) {
            forget(event.wd)
            return
        }
        // The directory's own deletion or move is reported by its parent's watch.
        guard tree[event.wd] != nil, !event.name.isEmpty else { return }
        let (wd, name) = (event.wd, event.name)
        if event.has(Inotify.create) {
            appeared(wd, name, isDirectory: event.isDirectory, report: true)
        } else if event.has(Inotify.modify) {
            modified(wd, name)
        } else if event.has(Inotify.delete) {
            flushModify(wd, name)
            scanned.remove(FileKey(wd: wd, name: name))
            if !Self.isUploadTemporary(name) { emit(.delete, wd, name, isDirectory: event.isDirectory) }
        } else if event.has(Inotify.movedFrom) {
            flushModify(wd, name)
            scanned.remove(FileKey(wd: wd, name: name))
            pendingMove = PendingMove(event: event, deadline: Self.now() + Self.moveWait)
        } else if event.has(Inotify.movedTo) {
            if let pendingMove, pendingMove.event.cookie == event.cookie {
                self.pendingMove = nil
                moved(from: pendingMove.event, to: event)
            } else {
                appeared(wd, name, isDirectory: event.isDirectory, report: true)
            }
        }
    }

    /// `name` appeared in `wd` (created, or moved in from outside what is watched).
    private func appeared(_ wd: Int32, _ name: [UInt8], isDirectory: Bool, report: Bool) {
        if scanned.remove(FileKey(wd: wd, name: name)) != nil { return }
        if !isDirectory && Self.isUploadTemporary(name) { return }
        emit(.create, wd, name, isDirectory: isDirectory)
        if isDirectory { watchNew(wd, name, report: report) }
    }

    private func moved(from: Inotify.Event, to: Inotify.Event) {
        if !to.isDirectory && from.wd == to.wd && Self.isUploadTemporary(from.name) {
            modified(to.wd, to.name)
            return
        }
        emitRename(from: from, to: to)
        guard to.isDirectory else { return }
        if let moved = tree.child(of: from.wd, named: from.name) {
            tree.relink(moved, parent: to.wd, name: to.name)
        } else {
            watchNew(to.wd, to.name, report: false)
        }
    }

    /// The first half of a move had no second: the entry left what is watched (a delete); a
    /// directory's watches go with it.
    private func flushMove() {
        guard let move = pendingMove?.event else { return }
        pendingMove = nil
        if Self.isUploadTemporary(move.name) && !move.isDirectory { return }
        emit(.delete, move.wd, move.name, isDirectory: move.isDirectory)
        guard move.isDirectory, let gone = tree.child(of: move.wd, named: move.name) else { return }
        unwatch(gone)
    }

    /// Drops the watches of `wd` and everything below it.
    private func unwatch(_ wd: Int32) {
        let paths = basePaths()
        let removed = tree.remove(wd)
        for wd in removed { inotify.remove(wd) }
        endClients(watching: removed, paths: paths)
    }

    /// IN_IGNORED: the kernel dropped the watch (its directory was deleted, or we removed it).
    private func forget(_ wd: Int32) {
        guard tree[wd] != nil else { return }
        let paths = basePaths()
        let removed = tree.remove(wd)
        for other in removed where other != wd { inotify.remove(other) }
        endClients(watching: removed, paths: paths)
    }

    private func basePaths() -> [Int32: String] {
        var paths: [Int32: String] = [:]
        for client in clients { if let base = client.base { paths[base] = tree.path(base) } }
        return paths
    }

    /// After the kernel's queue overflowed, events were lost: walks every client's tree again
    /// (already watched directories cost one lookup) so new directories get their watches.
    private func rewalk() {
        for client in clients where client.base != nil {
            try? attachBase(client.subscription)
        }
    }

    // MARK: Watches

    /// Watches the directory open at `fd`, `name` in `parent` (nil: the workspace): its wd, or
    /// nil when the budget is spent (then clients are told) or the kernel refuses.
    private func watch(_ fd: Int32, parent: Int32?, name: [UInt8]) -> Int32? {
        guard let identity = WatchDirectory.inode(fd) else { return nil }
        if tree.count >= limits.maxWatches {
            if let known = tree.watched(inode: identity.inode) {
                tree.relink(known, parent: parent, name: name)
                return known
            }
            reachLimit()
            return nil
        }
        let wd = inotify.watch(directory: fd)
        guard wd >= 0 else {
            if errno == ENOSPC { reachLimit() }
            return nil
        }
        tree.insert(wd, parent: parent, name: name, inode: identity.inode)
        return wd
    }

    private func reachLimit() {
        limitReached = true
        tellLimit()
    }

    /// A directory appeared in watched directory `wd`: watched if some client wants it, with
    /// what lies below; with `report`, what it already holds is reported as created.
    private func watchNew(_ wd: Int32, _ name: [UInt8], report: Bool) {
        guard tree.child(of: wd, named: name) == nil, wanted(wd, name), let parent = open(wd),
              let directory = WatchDirectory.open(parent.raw, name), let child = watch(directory.raw, parent: wd, name: name)
        else { return }
        walk(directory, wd: child, report: report)
    }

    /// Opens watched directory `wd` from the workspace down, one name at a time, never through a
    /// link, each step the very directory the tree knows (same inode); nil if the tree moved.
    private func open(_ wd: Int32) -> FileDescriptor? {
        guard let chain = tree.chain(to: wd), var current = WatchDirectory.openRoot(workspace),
              WatchDirectory.inode(current.raw)?.inode == chain.first?.inode else { return nil }
        for node in chain.dropFirst() {
            guard let next = WatchDirectory.open(current.raw, node.name), WatchDirectory.inode(next.raw)?.inode == node.inode else { return nil }
            current = next
        }
        return current
    }

    /// A directory the walk is in.
    private struct Frame {
        let wd: Int32
        let device: UInt64
        let inode: UInt64
        let subdirectories: [[UInt8]]
        var next = 0
    }

    /// Watches the directories below `start` (watched as `wd`) that clients want, depth first,
    /// with two descriptors open at most: coming back up, the parent is reopened through `..`
    /// and must be the directory the walk came from (same device and inode), else the walk
    /// stops (a tenant moved it meanwhile; the events of that move fix the tree). Links are
    /// never followed. With `report`, every entry found is reported as created.
    private func walk(_ start: FileDescriptor, wd: Int32, report: Bool) {
        guard let identity = WatchDirectory.inode(start.raw) else { return }
        var current = start
        var frames = [Frame(wd: wd, device: identity.device, inode: identity.inode, subdirectories: scan(start.raw, wd: wd, report: report))]
        while let top = frames.indices.last {
            guard frames[top].next < frames[top].subdirectories.count else {
                frames.removeLast()
                guard let parent = frames.last else { return }
                guard let up = WatchDirectory.open(current.raw, [46, 46]), let found = WatchDirectory.inode(up.raw),
                      found.device == parent.device, found.inode == parent.inode else { return }
                current = up
                continue
            }
            let name = frames[top].subdirectories[frames[top].next]
            frames[top].next += 1
            guard let child = WatchDirectory.open(current.raw, name), let found = WatchDirectory.inode(child.raw),
                  let childWD = watch(child.raw, parent: frames[top].wd, name: name) else { continue }
            let below = scan(child.raw, wd: childWD, report: report)
            frames.append(Frame(wd: childWD, device: found.device, inode: found.inode, subdirectories: below))
            current = child
        }
    }

    /// The entries of directory `fd` (watched as `wd`): reported as created with `report`; the
    /// subdirectories clients want are answered, as many as the watch budget at most.
    private func scan(_ fd: Int32, wd: Int32, report: Bool) -> [[UInt8]] {
        var subdirectories: [[UInt8]] = []
        WatchDirectory.entries(fd, limit: Self.maxEntriesPerDirectory) { name, isDirectory in
            if report && !Self.isUploadTemporary(name) {
                if scanned.count < Self.maxScanned { scanned.insert(FileKey(wd: wd, name: name)) }
                emit(.create, wd, name, isDirectory: isDirectory)
            }
            if isDirectory && subdirectories.count < limits.maxWatches && wanted(wd, name) { subdirectories.append(name) }
        }
        return subdirectories
    }
}
