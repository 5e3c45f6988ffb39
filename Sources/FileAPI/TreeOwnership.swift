#if canImport(Glibc)
import Glibc
#endif

/// Changes the owner of everything in a directory tree that a tenant can write to, as root,
/// without ever touching anything outside it: each file's uid and gid go through `map`.
///
/// Walks as `TreeRemover` does: by descriptor (`openat(O_NOFOLLOW | O_DIRECTORY)`, `fstatat` and
/// `fchownat` with `AT_SYMLINK_NOFOLLOW`, `fchown` on the directory it opened), iteratively, with
/// at most `maxOpen` directory descriptors (`DirectoryChain`), on one file system. A link is
/// given a new owner itself, never followed; a directory swapped for a link mid-walk is met by
/// `O_NOFOLLOW`. A directory is listed in batches; the walk comes back to where it stopped with
/// `telldir`/`seekdir`. Best effort: what vanishes meanwhile is skipped; the first failure is
/// thrown at the end.
public struct TreeOwnership: Sendable {
    public let map: @Sendable (UInt32) -> UInt32
    public var maxOpen: Int
    public var batch: Int = 256

    /// `map` takes an owner (uid or gid) and answers the new one.
    public init(maxOpen: Int = 64, map: @escaping @Sendable (UInt32) -> UInt32) {
        self.map = map
        self.maxOpen = maxOpen
    }

    /// Changes owners under `path`, `path` itself included. Only its last component may be
    /// tenant-controlled: the parent is opened by path. A missing path is not an error.
    /// Answers the most directory descriptors held at once.
    @discardableResult
    public func apply(path: String) throws -> Int {
        let (parentPath, name) = TreeRemover.split(path)
        let parent = open(parentPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parent >= 0 else {
            if errno == ENOENT { return 0 }
            throw FileAPIError("cannot change owners under \(path)", cause: FileSystemFailure(call: "open", code: errno))
        }
        defer { close(parent) }
        return try apply(name, in: parent)
    }

    /// Changes owners under `name` in the directory open at `parent`, `name` itself included.
    @discardableResult
    public func apply(_ name: [CChar], in parent: Int32) throws -> Int {
        var failure: FileSystemFailure?
        func fail(_ call: String, _ code: Int32) { failure = failure ?? FileSystemFailure(call: call, code: code) }

        let fd = openat(parent, name, DirectoryChain.flags)
        guard fd >= 0 else {
            switch errno {
            case ENOENT: return 0
            case ENOTDIR, ELOOP: chownEntry(parent, name, fail)
            default: fail("open", errno)
            }
            if let failure { throw FileAPIError("cannot change owners in the tree", cause: failure) }
            return 0
        }
        let chain = DirectoryChain(start: fd, name: name, maxOpen: maxOpen)
        defer { chain.close() }
        chownDirectory(fd, fail)
        // Per level: subdirectories still to enter, and where the listing stopped when a batch
        // filled up (nil: it reached the end).
        struct Level {
            var pending: [[CChar]] = []
            var resume: Int?
            var listed = false
        }
        var state = [Level()]

        while true {
            guard chain.openBottom() else {
                // A closed level was moved or replaced meanwhile: what is below it now is not
                // ours to walk; the level above goes on with its other entries.
                state.removeLast(state.count - chain.count)
                continue
            }
            let directory = chain.bottomFD
            var level = state[state.count - 1]
            if level.pending.isEmpty && (!level.listed || level.resume != nil) {
                if let stream = DirectoryStream(directory) {
                    if let resume = level.resume { stream.seek(to: resume) }
                    level.resume = nil
                    while let entry = stream.next() {
                        guard let isDirectory = DirectoryStream.isDirectory(entry, in: directory) else { continue }
                        if isDirectory {
                            level.pending.append(entry.name)
                            if level.pending.count == batch {
                                level.resume = stream.position
                                break
                            }
                        } else {
                            chownEntry(directory, entry.name, fail)
                        }
                    }
                } else {
                    fail("opendir", errno)
                }
                level.listed = true
            }
            if let next = level.pending.popLast() {
                state[state.count - 1] = level
                chain.makeRoom()
                let child = openat(directory, next, DirectoryChain.flags)
                if child < 0 {
                    if errno == ENOTDIR || errno == ELOOP { chownEntry(directory, next, fail) } else if errno != ENOENT { fail("open", errno) }
                    continue
                }
                var info = stat()
                guard fstat(child, &info) == 0, info.st_dev == chain.device else {
                    close(child)
                    fail("walk (a mount point inside the tree)", EXDEV)
                    continue
                }
                chownDirectory(child, fail)
                chain.push(child, name: next, info: info)
                state.append(Level())
                continue
            }
            state[state.count - 1] = level
            if level.resume != nil { continue }
            state.removeLast()
            chain.pop()
            if chain.count == 0 { break }
        }
        let peak = chain.peakOpen
        if let failure { throw FileAPIError("cannot change owners in the tree", cause: failure) }
        return peak
    }

    private func chownDirectory(_ fd: Int32, _ fail: (String, Int32) -> Void) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return fail("fstat", errno) }
        let (uid, gid) = (map(info.st_uid), map(info.st_gid))
        if uid != info.st_uid || gid != info.st_gid, fchown(fd, uid, gid) != 0 { fail("fchown", errno) }
    }

    private func chownEntry(_ directory: Int32, _ name: [CChar], _ fail: (String, Int32) -> Void) {
        var info = stat()
        guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno != ENOENT { fail("fstatat", errno) }
            return
        }
        let (uid, gid) = (map(info.st_uid), map(info.st_gid))
        guard uid != info.st_uid || gid != info.st_gid else { return }
        if fchownat(directory, name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0 && errno != ENOENT { fail("fchownat", errno) }
    }
}
