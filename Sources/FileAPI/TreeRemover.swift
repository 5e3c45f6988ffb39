#if canImport(Glibc)
import Glibc
#endif

/// Removes a directory tree that a tenant can write to, as root, without ever touching anything
/// outside it.
///
/// Every step is relative to a descriptor of a directory already inside the tree: entries are
/// listed with `readdir`, files and links removed with `unlinkat`, directories entered with
/// `openat(O_NOFOLLOW | O_DIRECTORY)`. A directory swapped for a symlink mid-walk is met by
/// `O_NOFOLLOW` and removed as the link it now is; nothing is ever resolved by path. The walk is
/// iterative (no recursion: a 20,000-level chain costs no stack) and holds at most `maxOpen`
/// directory descriptors (`DirectoryChain` re-derives closed levels from the top by name, each
/// checked by device and inode). It stays on the start directory's file system (a mount point
/// inside is left alone, and reported).
///
/// Removal is idempotent: anything already gone (another remover, a concurrent delete) counts as
/// removed. What cannot be removed is skipped and the walk goes on; the first failure is thrown
/// at the end. The tree must not be written to meanwhile for the walk to finish (callers stop the
/// sandbox first); a writer only makes it rescan, never leave the tree.
public struct TreeRemover: Sendable {
    /// Directory descriptors held at once, at most (plus one for the directory being listed).
    public var maxOpen: Int
    /// Subdirectory names remembered per level from one listing: a huge directory is listed
    /// again from its start when these are done (what was removed is no longer in it).
    public var batch: Int = 256
    /// A directory found not empty right after its walk (a writer raced us) is walked again up
    /// to this many times, then reported.
    public var retries: Int = 8

    public init(maxOpen: Int = 64) {
        self.maxOpen = maxOpen
    }

    /// What a removal did.
    public struct Outcome: Sendable {
        /// Files, links and directories removed.
        public var removed = 0
        /// The most directory descriptors held at once.
        public var peakOpen = 0
    }

    /// Removes `path` (a directory tree, a file or a link; a missing path is not an error). Only
    /// the last component is tenant-controlled: the parent is opened by path, so it must be a
    /// host-owned directory (the data directory's own layout).
    @discardableResult
    public func remove(path: String) throws -> Outcome {
        let (parent, name) = Self.split(path)
        let fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return Outcome() }
            throw FileAPIError("cannot remove \(path)", cause: FileSystemFailure(call: "open", code: errno))
        }
        defer { close(fd) }
        return try remove(name, in: fd)
    }

    /// Removes `name` in the directory open at `parent`, recursively for a directory.
    @discardableResult
    public func remove(_ name: [CChar], in parent: Int32) throws -> Outcome {
        var outcome = Outcome()
        // The top directory found not empty after a walk (written to meanwhile): walk it again.
        for attempt in 0...retries {
            let (pass, failure) = walk(name, in: parent)
            outcome.removed += pass.removed
            outcome.peakOpen = max(outcome.peakOpen, pass.peakOpen)
            guard let failure else { return outcome }
            if failure.call == "rmdir top" && failure.code == ENOTEMPTY && attempt < retries { continue }
            throw FileAPIError("cannot remove the tree", cause: failure)
        }
        return outcome
    }

    /// One walk: removes what it finds; answers the first failure.
    private func walk(_ name: [CChar], in parent: Int32) -> (Outcome, FileSystemFailure?) {
        var outcome = Outcome()
        var failure: FileSystemFailure?
        func fail(_ call: String, _ code: Int32) { failure = failure ?? FileSystemFailure(call: call, code: code) }

        let fd = openat(parent, name, DirectoryChain.flags)
        if fd < 0 {
            switch errno {
            case ENOENT: return (outcome, nil)
            case ENOTDIR, ELOOP:
                // A file or a link: removed itself.
                if unlinkat(parent, name, 0) == 0 { outcome.removed += 1 } else if errno != ENOENT { fail("unlink", errno) }
            default: fail("open", errno)
            }
            return (outcome, failure)
        }
        let chain = DirectoryChain(start: fd, name: name, maxOpen: maxOpen)
        defer { chain.close() }
        // Per level, in step with `chain`: subdirectories still to enter; whether the last
        // listing saw all of them (fewer than a batch); names that could not be removed (not
        // taken again); whether anything below failed; walks again after a writer raced us.
        struct Level {
            var pending: [[CChar]] = []
            var complete = false
            var skipped: Set<[CChar]> = []
            var failed = false
            var retries = 0
        }
        var state = [Level()]
        func skip(_ name: [CChar], _ call: String, _ code: Int32) {
            fail(call, code)
            state[state.count - 1].failed = true
            state[state.count - 1].skipped.insert(name)
        }
        /// After `openBottom` failed: the chain was cut; the new bottom lists its entries again.
        func resynchronise() {
            state.removeLast(state.count - chain.count)
            state[state.count - 1].pending.removeAll()
            state[state.count - 1].complete = false
        }

        while true {
            guard chain.openBottom() else {
                resynchronise()
                continue
            }
            let directory = chain.bottomFD
            if state[state.count - 1].pending.isEmpty && !state[state.count - 1].complete {
                var pending: [[CChar]] = []
                if let stream = DirectoryStream(directory) {
                    let skipped = state[state.count - 1].skipped
                    while let entry = stream.next() {
                        if skipped.contains(entry.name) { continue }
                        guard let isDirectory = DirectoryStream.isDirectory(entry, in: directory) else { continue }
                        if !isDirectory {
                            if unlinkat(directory, entry.name, 0) == 0 { outcome.removed += 1; continue }
                            if errno == ENOENT { continue }
                            if errno != EISDIR { skip(entry.name, "unlink", errno); continue }
                        }
                        if pending.count < batch { pending.append(entry.name) }
                    }
                } else {
                    fail("opendir", errno)
                    state[state.count - 1].failed = true
                }
                state[state.count - 1].complete = pending.count < batch
                state[state.count - 1].pending = pending
            }
            if let next = state[state.count - 1].pending.popLast() {
                chain.makeRoom()
                let child = openat(directory, next, DirectoryChain.flags)
                if child < 0 {
                    switch errno {
                    case ENOENT: break
                    case ENOTDIR, ELOOP:
                        // Swapped for a link or a file since it was listed: removed as what it is now.
                        if unlinkat(directory, next, 0) == 0 { outcome.removed += 1 } else if errno != ENOENT { skip(next, "unlink", errno) }
                    default: skip(next, "open", errno)
                    }
                    continue
                }
                var info = stat()
                guard fstat(child, &info) == 0, info.st_dev == chain.device else {
                    // Another file system mounted here: not ours to empty.
                    close(child)
                    skip(next, "walk (a mount point inside the tree)", EXDEV)
                    continue
                }
                chain.push(child, name: next, info: info)
                state.append(Level())
                continue
            }
            // A full batch is done: list what else the directory holds.
            if !state[state.count - 1].complete { continue }

            // Empty, but for what could not be removed: remove it from the level above.
            let level = state.removeLast()
            let name = chain.bottomName
            chain.pop()
            if chain.count == 0 {
                if !level.failed {
                    if unlinkat(parent, name, AT_REMOVEDIR) == 0 { outcome.removed += 1 } else if errno != ENOENT { fail("rmdir top", errno) }
                }
                break
            }
            guard chain.openBottom() else {
                resynchronise()
                continue
            }
            if level.failed {
                state[state.count - 1].failed = true
                state[state.count - 1].skipped.insert(name)
                continue
            }
            if unlinkat(chain.bottomFD, name, AT_REMOVEDIR) == 0 { outcome.removed += 1; continue }
            switch errno {
            case ENOENT: break
            case ENOTEMPTY, EEXIST:
                // Written to since it was emptied: walk it again, a bounded number of times.
                state[state.count - 1].retries += 1
                if state[state.count - 1].retries > retries { skip(name, "rmdir", ENOTEMPTY) } else { state[state.count - 1].pending.append(name) }
            case ENOTDIR:
                if unlinkat(chain.bottomFD, name, 0) == 0 { outcome.removed += 1 }
            default:
                skip(name, "rmdir", errno)
            }
        }
        outcome.peakOpen = chain.peakOpen
        return (outcome, failure)
    }

    /// `path` as its parent directory's path and its last component (NUL-terminated).
    static func split(_ path: String) -> (parent: String, name: [CChar]) {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return (".", Array(String(trimmed).utf8CString)) }
        let parent = trimmed[..<slash]
        return (parent.isEmpty ? "/" : String(parent), Array(String(trimmed[trimmed.index(after: slash)...]).utf8CString))
    }
}
