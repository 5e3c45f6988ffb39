#if canImport(Glibc)
import Glibc
#endif

/// What a `DirectoryWalk` shows its visitor, entry by entry.
protocol DirectoryVisitor {
    /// One entry; `.descend` on a directory walks into it (if the depth cap allows).
    mutating func visit(_ item: DirectoryWalk.Item) throws -> DirectoryWalk.Action
    /// The walk went into the directory `item` (shown just before by `visit`).
    mutating func enter(_ item: DirectoryWalk.Item) throws
    /// The walk left the directory last entered: every entry of it was shown.
    mutating func leave() throws
}

extension DirectoryVisitor {
    mutating func enter(_ item: DirectoryWalk.Item) throws {}
    mutating func leave() throws {}
}

/// The one recursive walk of a workspace tree, for tree, search, download and usage: depth first,
/// iterative (no recursion on the stack, however deep the tree), with at most two directory
/// descriptors open at a time whatever the depth. Each directory's entries are read (and
/// `lstat`ed) at once and its descriptor closed when the walk goes down; coming back up, the
/// parent is reopened through `..` and must be the very directory the walk left (same device and
/// inode), else the walk stops there and says `truncated` (a tenant moved it meanwhile: nothing
/// outside is ever reached). Links are never followed. Entries deeper than `maxDepth` levels below
/// the start are left out, and `truncated` says whether anything was.
struct DirectoryWalk {
    /// One entry as the visitor sees it (valid during `visit` and `enter` only).
    struct Item {
        let entry: DirectoryEntry
        /// The directory holding the entry, open.
        let directory: Int32
        /// 1 for the start's own entries.
        let level: Int
        fileprivate let trail: Trail

        /// An entry of a directory outside any walk, its path `prefix/name`.
        init(entry: DirectoryEntry, directory: Int32, level: Int, prefix: String) {
            self.init(entry: entry, directory: directory, level: level, trail: Trail(prefix: prefix))
        }

        fileprivate init(entry: DirectoryEntry, directory: Int32, level: Int, trail: Trail) {
            self.entry = entry
            self.directory = directory
            self.level = level
            self.trail = trail
        }

        /// `prefix/name/…`: the walk's prefix, then the names below the start. Built when asked
        /// (in O(depth)), never kept by the walk: a usage count asks for none.
        var path: String { trail.path(to: entry.name) }
    }

    /// The names of the directories the walk is in, below its start: one short string per level,
    /// so a walk's memory grows with its depth, not with the square of it.
    fileprivate final class Trail {
        let prefix: String
        var names: [String] = []

        init(prefix: String) { self.prefix = prefix }

        func path(to name: String) -> String {
            var path = prefix
            for part in names {
                if !path.isEmpty { path += "/" }
                path += part
            }
            if !path.isEmpty { path += "/" }
            path += name
            return path
        }
    }

    enum Action {
        /// Next entry (a directory is not walked into).
        case next
        /// Walk into this directory.
        case descend
        /// End the walk.
        case stop
    }

    /// Deepest level shown (nil: no cap).
    let maxDepth: Int?
    /// Entries in tree order (directories first, then by name without regard to case) instead of
    /// the file system's.
    let sorted: Bool
    /// The level of the start's own entries (a walk of a subtree of another walk continues its count).
    var firstLevel = 1
    /// Entries read of one directory at most (the first the file system gives); more is `truncated`.
    var maxEntriesRead = Int.max

    /// Whether something was left out: a directory at the cap that holds entries, entries past
    /// `maxEntriesRead`, or a directory moved away mid-walk.
    private(set) var truncated = false

    init(maxDepth: Int?, sorted: Bool, firstLevel: Int = 1) {
        self.maxDepth = maxDepth
        self.sorted = sorted
        self.firstLevel = firstLevel
    }

    /// A directory the walk is in: what is left of its entries and who it is (no path: its name
    /// is on the trail).
    private struct Frame {
        let entries: [DirectoryEntry]
        var next = 0
        let device: UInt64
        let inode: UInt64
        let level: Int
    }

    /// Walks the directory open at `start` (not closed here), paths built on `prefix` (`""`: the
    /// names below the start, without a leading slash).
    mutating func run<Visitor: DirectoryVisitor>(_ start: Int32, prefix: String, visitor: inout Visitor) throws {
        guard var current = Self.reopen(start, "."), let identity = Self.identity(current.raw) else { return }
        let trail = Trail(prefix: prefix)
        var frames = [Frame(entries: read(current.raw), device: identity.device, inode: identity.inode, level: firstLevel)]
        while let top = frames.indices.last {
            guard frames[top].next < frames[top].entries.count else {
                frames.removeLast()
                guard let parent = frames.last else { return }
                trail.names.removeLast()
                try visitor.leave()
                // Back up to the parent, which must be the directory the walk came down from.
                guard let reopened = Self.reopen(current.raw, ".."), let found = Self.identity(reopened.raw),
                      found.device == parent.device, found.inode == parent.inode else {
                    truncated = true
                    for _ in 1..<frames.count { try visitor.leave() }
                    return
                }
                current = reopened
                continue
            }
            let entry = frames[top].entries[frames[top].next]
            frames[top].next += 1
            let level = frames[top].level
            let item = Item(entry: entry, directory: current.raw, level: level, trail: trail)
            switch try visitor.visit(item) {
            case .stop: return
            case .next: continue
            case .descend: guard entry.isDirectory else { continue }
            }
            if let maxDepth, level >= maxDepth {
                if !truncated && Self.hasEntries(current.raw, entry.name) { truncated = true }
                continue
            }
            guard let child = DirectoryEntry.openDirectory(current.raw, entry.name), let childIdentity = Self.identity(child.raw) else {
                continue
            }
            let entries = read(child.raw)
            try visitor.enter(item)
            trail.names.append(entry.name)
            frames.append(Frame(entries: entries, device: childIdentity.device, inode: childIdentity.inode, level: level + 1))
            current = child
        }
    }

    /// The entries of the directory open at `fd`, `maxEntriesRead` at most, in the walk's order.
    mutating func read(_ fd: Int32) -> [DirectoryEntry] {
        var entries = DirectoryEntry.read(fd, limit: maxEntriesRead == .max ? .max : maxEntriesRead + 1)
        if entries.count > maxEntriesRead {
            truncated = true
            entries.removeLast()
        }
        return sorted ? WorkspaceRoot.sortedForTree(entries) : entries
    }

    /// `name` in `directory` opened as a directory for reading, never through a link.
    private static func reopen(_ directory: Int32, _ name: String) -> FileDescriptor? {
        let fd = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        return fd >= 0 ? FileDescriptor(fd) : nil
    }

    private static func identity(_ fd: Int32) -> (device: UInt64, inode: UInt64)? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }

    /// Whether directory `name` in `directory` holds anything (not following a link).
    static func hasEntries(_ directory: Int32, _ name: String) -> Bool {
        let fd = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0, let stream = fdopendir(fd) else {
            if fd >= 0 { close(fd) }
            return false
        }
        defer { closedir(stream) }
        while let raw = readdir(stream) {
            let isDot = withUnsafePointer(to: raw.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 3) { name in
                    name[0] == 0x2E && (name[1] == 0 || (name[1] == 0x2E && name[2] == 0))
                }
            }
            if !isDot { return true }
        }
        return false
    }
}
