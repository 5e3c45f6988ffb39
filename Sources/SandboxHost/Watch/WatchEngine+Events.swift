import FileAPI
#if canImport(Glibc)
import Glibc
#endif

/// inotify events turned into the contract's events, and each handed to the clients it concerns.
extension WatchEngine {
    // MARK: Events to clients

    func emit(_ kind: WatchEvent.Kind, _ wd: Int32, _ name: [UInt8], isDirectory: Bool) {
        var path: String?
        for client in clients where covers(client, wd) {
            if path == nil { path = tree.path(wd, name) }
            guard let path else { return }
            client.subscription.push(WatchEvent(kind: kind, path: path, isDirectory: isDirectory))
        }
    }

    /// A rename as each client sees it: a rename when it sees both sides, a delete or a create
    /// when it sees one.
    func emitRename(from: Inotify.Event, to: Inotify.Event) {
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

    func modified(_ wd: Int32, _ name: [UInt8]) {
        if coalescer.modified(FileKey(wd: wd, name: name), now: Self.now()) { emit(.modify, wd, name, isDirectory: false) }
    }

    /// A coalesced write still unreported for a file about to be deleted or renamed goes first.
    func flushModify(_ wd: Int32, _ name: [UInt8]) {
        if coalescer.take(FileKey(wd: wd, name: name)) { emit(.modify, wd, name, isDirectory: false) }
    }

    // MARK: inotify events

    func handle(_ event: Inotify.Event) {
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
    func appeared(_ wd: Int32, _ name: [UInt8], isDirectory: Bool, report: Bool) {
        if scanned.remove(FileKey(wd: wd, name: name)) != nil { return }
        if !isDirectory && Self.isUploadTemporary(name) { return }
        emit(.create, wd, name, isDirectory: isDirectory)
        if isDirectory { watchNew(wd, name, report: report) }
    }

    func moved(from: Inotify.Event, to: Inotify.Event) {
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
    func flushMove() {
        guard let move = pendingMove?.event else { return }
        pendingMove = nil
        if Self.isUploadTemporary(move.name) && !move.isDirectory { return }
        emit(.delete, move.wd, move.name, isDirectory: move.isDirectory)
        guard move.isDirectory, let gone = tree.child(of: move.wd, named: move.name) else { return }
        unwatch(gone)
    }

    /// Drops the watches of `wd` and everything below it.
    func unwatch(_ wd: Int32) {
        let paths = basePaths()
        let removed = tree.remove(wd)
        for wd in removed { inotify.remove(wd) }
        endClients(watching: removed, paths: paths)
    }

    /// IN_IGNORED: the kernel dropped the watch (its directory was deleted, or we removed it).
    func forget(_ wd: Int32) {
        guard tree[wd] != nil else { return }
        let paths = basePaths()
        let removed = tree.remove(wd)
        for other in removed where other != wd { inotify.remove(other) }
        endClients(watching: removed, paths: paths)
    }

    func basePaths() -> [Int32: String] {
        var paths: [Int32: String] = [:]
        for client in clients { if let base = client.base { paths[base] = tree.path(base) } }
        return paths
    }

    /// After the kernel's queue overflowed, events were lost: walks every client's tree again
    /// (already watched directories cost one lookup) so new directories get their watches.
    func rewalk() {
        for client in clients where client.base != nil {
            try? attachBase(client.subscription)
        }
    }
}
