#if canImport(Glibc)
import Glibc
#endif

/// Copies a directory of a workspace into a new host directory that only the host can reach: the
/// snapshot a deployment commits, and the published site. The source is walked by descriptor
/// (`DirectoryWalk`: iterative, links never followed, a directory moved mid-walk ends the walk),
/// each file opened `O_NOFOLLOW` and checked with `fstat` on the open descriptor, so a tenant
/// swapping a directory for a link meanwhile gets nothing from outside into the copy. Regular
/// files (at most the size `fstat` gave, holes skipped: a sparse file stays sparse), directories,
/// and links as links (never followed) when asked; devices, FIFOs and sockets are left out.
/// Bounded: total bytes (file sizes as a reader sees them, holes included, since git and a
/// browser read them so), entries, depth and time, each over its cap a `FileAPIError`. Blocking
/// for up to `Limits.deadline`: run it on a thread of its own.
public struct TreeCopy: Sendable {
    public struct Limits: Sendable {
        /// Bytes of all files together, each counted at its size (413 over it).
        public var maxBytes: Int64 = ExtractionLimits().maxBytes
        /// Files, directories and links together (413 over it).
        public var maxEntries = ExtractionLimits().maxEntries
        /// Levels below the start; a deeper entry refuses the copy (400).
        public var maxDepth = WorkspaceRoot.defaultMaxDepth
        /// The whole copy (413 past it: the tree is too large to copy in time).
        public var deadline: Duration = .seconds(120)

        public init() {}
    }

    /// What a copy did.
    public struct Report: Sendable {
        public var files = 0
        public var entries = 0
        public var bytes: Int64 = 0
    }

    public var limits: Limits
    /// Directory names left out wherever they are.
    public var skipped: Set<String>
    /// Links copied as links (their targets as they are, never followed); otherwise left out.
    public var copyLinks: Bool

    public init(limits: Limits = Limits(), skipped: Set<String> = [], copyLinks: Bool) {
        self.limits = limits
        self.skipped = skipped
        self.copyLinks = copyLinks
    }

    /// Copies directory `path` of `root` to `destination`, which must not exist and is made with
    /// `mode`. On an error the partial copy stays for the caller to remove (`TreeRemover`).
    public func copy(_ root: WorkspaceRoot, _ path: WorkspacePath, to destination: String, mode: mode_t = 0o755) throws -> Report {
        let source = try root.openDirectory(path)
        guard mkdir(destination, mode) == 0 else { throw FileAPIError.system("mkdir", errno, path) }
        chmod(destination, mode)  // whatever the umask took away
        let target = Glibc.open(destination, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard target >= 0 else { throw FileAPIError.system("open", errno, path) }
        var visitor = Copier(copy: self, path: path, target: FileDescriptor(target), deadline: ContinuousClock.now + limits.deadline)
        var walk = DirectoryWalk(maxDepth: limits.maxDepth, sorted: false)
        try walk.run(source.raw, prefix: "", visitor: &visitor)
        if walk.truncated {
            throw FileAPIError.invalidRequest(
                "\(path.relative.isEmpty ? "the workspace" : path.description) is deeper than \(limits.maxDepth) levels or changed while it was copied")
        }
        return visitor.report
    }

    /// The walk's visitor: keeps one descriptor on the target directory matching the walk's
    /// position (down by name, up by `..`: the target is the host's own, nothing there moves).
    private struct Copier: DirectoryVisitor {
        let copy: TreeCopy
        let path: WorkspacePath
        var target: FileDescriptor
        let deadline: ContinuousClock.Instant
        var report = Report()
        var buffer = [UInt8](repeating: 0, count: 1 << 18)
        /// `SEEK_DATA` and `SEEK_HOLE` (Linux 3.1), which Glibc's module leaves out.
        static let seekData: Int32 = 3
        static let seekHole: Int32 = 4

        mutating func visit(_ item: DirectoryWalk.Item) throws -> DirectoryWalk.Action {
            try checkTime()
            let name = item.entry.name
            if item.entry.isDirectory {
                if copy.skipped.contains(name) { return .next }
                try count()
                guard mkdirat(target.raw, name, 0o755) == 0 else { throw FileAPIError.system("mkdirat", errno, path) }
                return .descend
            }
            if item.entry.isSymlink {
                guard copy.copyLinks else { return .next }
                var link = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let length = readlinkat(item.directory, name, &link, link.count - 1)
                guard length > 0 else { return .next }
                link[length] = 0
                try count()
                guard symlinkat(link, target.raw, name) == 0 else { throw FileAPIError.system("symlinkat", errno, path) }
                return .next
            }
            if item.entry.isRegular { try file(item) }
            return .next
        }

        mutating func enter(_ item: DirectoryWalk.Item) throws {
            guard let child = DirectoryEntry.openDirectory(target.raw, item.entry.name) else {
                throw FileAPIError.system("openat", errno, path)
            }
            target = child
        }

        mutating func leave() throws {
            let parent = openat(target.raw, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard parent >= 0 else { throw FileAPIError.system("openat", errno, path) }
            target = FileDescriptor(parent)
        }

        private mutating func count() throws {
            report.entries += 1
            guard report.entries <= copy.limits.maxEntries else {
                throw FileAPIError("more than \(copy.limits.maxEntries) files and directories to copy", kind: .tooLarge)
            }
        }

        private func checkTime() throws {
            guard ContinuousClock.now < deadline else {
                throw FileAPIError("copying the files took longer than \(copy.limits.deadline)", kind: .tooLarge)
            }
        }

        /// One regular file: opened without following a link or blocking on a FIFO swapped in,
        /// checked on the descriptor, copied up to the size seen there, data segments only.
        private mutating func file(_ item: DirectoryWalk.Item) throws {
            let name = item.entry.name
            let input = openat(item.directory, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
            guard input >= 0 else { return }
            let inputFD = FileDescriptor(input)
            var info = stat()
            guard fstat(input, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return }
            let size = Int64(info.st_size)
            try count()
            report.bytes += size
            guard report.bytes <= copy.limits.maxBytes else {
                throw FileAPIError("more than \(copy.limits.maxBytes) bytes of files to copy", kind: .tooLarge)
            }
            let mode: mode_t = info.st_mode & 0o111 != 0 ? 0o755 : 0o644
            let output = openat(target.raw, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
            guard output >= 0 else { throw FileAPIError.system("openat", errno, path) }
            let outputFD = FileDescriptor(output)
            guard ftruncate(output, off_t(size)) == 0 else { throw FileAPIError.system("ftruncate", errno, path) }
            report.files += 1
            var offset: Int64 = 0
            while offset < size {
                var start = Int64(lseek(inputFD.raw, off_t(offset), Self.seekData))
                if start < 0 {
                    if errno == ENXIO { return }  // only a hole is left (or the file shrank)
                    start = offset  // no hole support: all of it is data
                }
                var end = Int64(lseek(inputFD.raw, off_t(start), Self.seekHole))
                if end < 0 || end > size { end = size }
                guard try segment(inputFD.raw, outputFD.raw, from: start, to: end) else { return }
                offset = end
            }
        }

        /// Copies bytes `start..<end`; false when the file ended early (it shrank meanwhile).
        private mutating func segment(_ input: Int32, _ output: Int32, from start: Int64, to end: Int64) throws -> Bool {
            var position = start
            while position < end {
                try checkTime()
                let wanted = Int(min(Int64(buffer.count), end - position))
                let count = buffer.withUnsafeMutableBytes { pread(input, $0.baseAddress!, wanted, off_t(position)) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return false }
                var written = 0
                while written < count {
                    let result = buffer.withUnsafeBytes { pwrite(output, $0.baseAddress! + written, count - written, off_t(position) + off_t(written)) }
                    if result < 0 && errno == EINTR { continue }
                    guard result > 0 else { throw FileAPIError.system("write", errno, path) }
                    written += result
                }
                position += Int64(count)
            }
            return true
        }
    }
}
