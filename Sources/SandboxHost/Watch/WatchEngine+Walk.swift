import FileAPI
#if canImport(Glibc)
import Glibc
#endif

/// Adding watches: a directory by its descriptor, the walk below it, a new directory's scan.
extension WatchEngine {
    // MARK: Watches

    /// Watches the directory open at `fd`, `name` in `parent` (nil: the workspace): its wd, or
    /// nil when the budget is spent (then clients are told) or the kernel refuses.
    func watch(_ fd: Int32, parent: Int32?, name: [UInt8]) -> Int32? {
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

    func reachLimit() {
        limitReached = true
        tellLimit()
    }

    /// A directory appeared in watched directory `wd`: watched if some client wants it, with
    /// what lies below; with `report`, what it already holds is reported as created.
    func watchNew(_ wd: Int32, _ name: [UInt8], report: Bool) {
        guard tree.child(of: wd, named: name) == nil, wanted(wd, name), let parent = open(wd),
              let directory = WatchDirectory.open(parent.raw, name), let child = watch(directory.raw, parent: wd, name: name)
        else { return }
        walk(directory, wd: child, report: report)
    }

    /// Opens watched directory `wd` from the workspace down, one name at a time, never through a
    /// link, each step the very directory the tree knows (same inode); nil if the tree moved.
    func open(_ wd: Int32) -> FileDescriptor? {
        guard let chain = tree.chain(to: wd), var current = WatchDirectory.openRoot(workspace),
              WatchDirectory.inode(current.raw)?.inode == chain.first?.inode else { return nil }
        for node in chain.dropFirst() {
            guard let next = WatchDirectory.open(current.raw, node.name), WatchDirectory.inode(next.raw)?.inode == node.inode else { return nil }
            current = next
        }
        return current
    }

    /// A directory the walk is in.
    struct Frame {
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
    func walk(_ start: FileDescriptor, wd: Int32, report: Bool) {
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
            // The budget spent: only directories already watched are walked again (no open).
            if tree.count >= limits.maxWatches && tree.child(of: frames[top].wd, named: name) == nil {
                reachLimit()
                continue
            }
            guard let child = WatchDirectory.open(current.raw, name), let found = WatchDirectory.inode(child.raw),
                  let childWD = watch(child.raw, parent: frames[top].wd, name: name) else { continue }
            let below = scan(child.raw, wd: childWD, report: report)
            frames.append(Frame(wd: childWD, device: found.device, inode: found.inode, subdirectories: below))
            current = child
        }
    }

    /// The entries of directory `fd` (watched as `wd`): reported as created with `report`; the
    /// subdirectories clients want are answered, as many as the watch budget at most.
    func scan(_ fd: Int32, wd: Int32, report: Bool) -> [[UInt8]] {
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
