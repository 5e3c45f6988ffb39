import CSandbox
#if canImport(Glibc)
import Glibc
#endif

/// One line that matched a search.
public struct SearchMatch: Sendable, Equatable {
    /// As the sandbox sees it: `/workspace/…`.
    public let path: String
    /// Counting from 1.
    public let line: Int
    /// The line, cut to `SearchOptions.maxLineBytes`.
    public let text: String
}

/// What `search` looks for and where.
public struct SearchOptions: Sendable {
    public var query: String
    /// `fnmatch` pattern: against the name when it has no `/`, else against the path below the
    /// search's base.
    public var glob: String?
    public var ignoreCase = false
    public var all = false
    public var maxResults = 200
    /// Larger files are not searched.
    public var maxFileBytes = 4 << 20
    /// Levels below the base searched at most (deeper files are left out: `truncated`).
    public var maxDepth = WorkspaceRoot.defaultMaxDepth
    /// How long one search may run; then it answers what it found, `truncated`.
    public var timeBudget: Duration = .seconds(5)
    /// How many bytes of files one search may read; then it answers what it found, `truncated`.
    public var maxBytesRead: Int64 = 256 << 20
    /// Bytes of JSON the matches may take, about (each repeats its path, which may be 64 KB deep);
    /// then it answers what it found, `truncated`.
    public var maxResponseBytes = 64 << 20
    static let maxLineBytes = 500

    public init(query: String, glob: String? = nil) {
        self.query = query
        self.glob = glob
    }
}

extension WorkspaceRoot {
    /// Text search below `path`: every line holding `query` (a literal), in tree order, up to
    /// `maxResults`. Binary files (a NUL in the first 8 KiB), large files and heavy directories are
    /// skipped; links are not followed. Linear in the bytes read: each file is scanned from match
    /// to match, newlines counted once. `truncated` when the results, the depth cap, the time
    /// budget or the byte budget left something out.
    public func search(_ path: WorkspacePath, _ options: SearchOptions) throws -> (matches: [SearchMatch], truncated: Bool) {
        guard !options.query.isEmpty else { throw FileAPIError.invalidRequest("the query is empty") }
        let directory = try openDirectory(path)
        var search = FileSearch(options: options, base: path)
        var walk = DirectoryWalk(maxDepth: options.maxDepth, sorted: true)
        try walk.run(directory.raw, prefix: "", visitor: &search)
        return (search.matches, search.truncated || walk.truncated)
    }
}

/// The visitor behind `search`: reads each candidate file whole into one buffer and scans it.
struct FileSearch: DirectoryVisitor {
    let options: SearchOptions
    let base: WorkspacePath
    let needle: [UInt8]
    let deadline: ContinuousClock.Instant
    private(set) var matches: [SearchMatch] = []
    private(set) var truncated = false
    private var bytesRead: Int64 = 0
    private var responseBytes = 0
    private var buffer: [UInt8]

    init(options: SearchOptions, base: WorkspacePath) {
        self.options = options
        self.base = base
        needle = Array((options.ignoreCase ? options.query.lowercased() : options.query).utf8)
        deadline = ContinuousClock.now + options.timeBudget
        buffer = [UInt8](repeating: 0, count: options.maxFileBytes)
    }

    mutating func visit(_ item: DirectoryWalk.Item) -> DirectoryWalk.Action {
        guard ContinuousClock.now < deadline else { truncated = true; return .stop }
        let entry = item.entry
        if entry.isDirectory { return options.all || !HeavyDirectories.contains(entry.name) ? .descend : .next }
        guard entry.isRegular, entry.size <= options.maxFileBytes else { return .next }
        if let glob = options.glob {
            let subject = glob.contains("/") ? item.path : entry.name
            guard fnmatch(glob, subject, 0) == 0 else { return .next }
        }
        guard bytesRead + entry.size <= options.maxBytesRead else { truncated = true; return .stop }
        let count = Self.readWhole(item.directory, entry.name, into: &buffer)
        bytesRead += Int64(count)
        guard count > 0 else { return .next }
        let path = base.description + "/" + item.path
        let more = buffer.withUnsafeBytes { scan(UnsafeRawBufferPointer(rebasing: $0[0..<count]), path: path) }
        return more ? .next : .stop
    }

    /// Records every line of `content` holding the needle; false once the results are full.
    private mutating func scan(_ content: UnsafeRawBufferPointer, path: String) -> Bool {
        let pathCost = ResponseLimits.jsonLength(path)
        if content.prefix(8192).contains(0) { return true }
        // A match is within one line: a needle with a newline matches nothing.
        guard !needle.contains(10), needle.count <= content.count else { return true }
        var lowered: [UInt8] = []
        if options.ignoreCase { lowered = content.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 } }
        return lowered.withUnsafeBytes { loweredBytes in
            let haystack = options.ignoreCase ? loweredBytes : content
            let base = haystack.baseAddress!
            var line = 1
            var lineStart = 0
            var counted = 0
            var from = 0
            while from + needle.count <= haystack.count {
                guard let found = needle.withUnsafeBytes({ csb_memmem(base + from, haystack.count - from, $0.baseAddress!, $0.count) }) else {
                    return true
                }
                let hit = found - UnsafeRawPointer(base)
                // The newlines before the hit, counted once: the scan never goes back.
                var index = counted
                while index < hit {
                    if haystack[index] == 10 { line += 1; lineStart = index + 1 }
                    index += 1
                }
                let end = memchr(base + hit, 10, haystack.count - hit).map { $0 - UnsafeMutableRawPointer(mutating: base) } ?? haystack.count
                guard matches.count < options.maxResults else { truncated = true; return false }
                var text = UnsafeRawBufferPointer(rebasing: content[lineStart..<end]).prefix(SearchOptions.maxLineBytes)
                if text.last == 13 { text = text.dropLast() }
                // A match's JSON: its path, its line (escaped at most 6 bytes a byte), the keys.
                responseBytes += pathCost + 6 * text.count + 40
                guard responseBytes <= options.maxResponseBytes else { truncated = true; return false }
                matches.append(SearchMatch(path: path, line: line, text: String(decoding: text, as: UTF8.self)))
                // The newline at `end` is counted by the next round.
                counted = end
                from = end + 1
            }
            return true
        }
    }

    /// Reads file `name` of `directory` (not through a link) into `buffer`; the byte count, or 0.
    static func readWhole(_ directory: Int32, _ name: String, into buffer: inout [UInt8]) -> Int {
        let fd = openat(directory, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var total = 0
        while total < buffer.count {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, $0.count - total) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            total += count
        }
        return total
    }
}
