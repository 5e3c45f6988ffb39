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
    static let maxLineBytes = 500

    public init(query: String, glob: String? = nil) {
        self.query = query
        self.glob = glob
    }
}

extension WorkspaceRoot {
    /// Text search below `path`: every line holding `query` (a literal), in tree order, up to
    /// `maxResults` (then `truncated`). Binary files (a NUL in the first 8 KiB), large files and
    /// heavy directories are skipped; links are not followed.
    public func search(_ path: WorkspacePath, _ options: SearchOptions) throws -> (matches: [SearchMatch], truncated: Bool) {
        guard !options.query.isEmpty else { throw FileAPIError.invalidRequest("the query is empty") }
        let directory = try openDirectory(path)
        let needle = Array((options.ignoreCase ? options.query.lowercased() : options.query).utf8)
        var matches: [SearchMatch] = []
        var truncated = false
        var buffer = [UInt8](repeating: 0, count: options.maxFileBytes)

        func visit(_ fd: Int32, _ at: WorkspacePath, relative: String) {
            for entry in Self.sortedForTree(DirectoryEntry.read(fd)) {
                if truncated { return }
                let childRelative = relative.isEmpty ? entry.name : relative + "/" + entry.name
                if entry.isDirectory {
                    guard options.all || !HeavyDirectories.contains(entry.name),
                          let child = DirectoryEntry.openDirectory(fd, entry.name) else { continue }
                    visit(child.raw, at.appending(entry.name), relative: childRelative)
                    continue
                }
                guard entry.isRegular, entry.size <= options.maxFileBytes else { continue }
                if let glob = options.glob {
                    let subject = glob.contains("/") ? childRelative : entry.name
                    guard fnmatch(glob, subject, 0) == 0 else { continue }
                }
                let count = Self.readWhole(fd, entry.name, into: &buffer)
                guard count > 0 else { continue }
                searchFile(buffer[0..<count], path: at.appending(entry.name).description)
            }
        }

        func searchFile(_ content: ArraySlice<UInt8>, path: String) {
            if content.prefix(8192).contains(0) { return }
            let haystack = options.ignoreCase ? ArraySlice(content.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }) : content
            guard Self.find(needle, in: haystack, from: haystack.startIndex) != nil else { return }
            var lineNumber = 1
            var lineStart = haystack.startIndex
            while lineStart < haystack.endIndex {
                let lineEnd = haystack[lineStart...].firstIndex(of: 10) ?? haystack.endIndex
                if let hit = Self.find(needle, in: haystack, from: lineStart), hit + needle.count <= lineEnd {
                    let line = content[lineStart..<lineEnd].prefix(SearchOptions.maxLineBytes)
                    let text = String(decoding: line.last == 13 ? line.dropLast() : line, as: UTF8.self)
                    guard matches.count < options.maxResults else { truncated = true; return }
                    matches.append(SearchMatch(path: path, line: lineNumber, text: text))
                }
                lineNumber += 1
                lineStart = lineEnd + 1
            }
        }

        visit(directory.raw, path, relative: "")
        return (matches, truncated)
    }

    /// The first index of `needle` in `haystack` at or after `start` (memmem).
    static func find(_ needle: [UInt8], in haystack: ArraySlice<UInt8>, from start: Int) -> Int? {
        guard start < haystack.endIndex else { return nil }
        return haystack.withUnsafeBytes { hay in
            needle.withUnsafeBytes { pin in
                let offset = start - haystack.startIndex
                guard let found = csb_memmem(hay.baseAddress! + offset, hay.count - offset, pin.baseAddress!, pin.count) else {
                    return nil
                }
                return haystack.startIndex + (found - UnsafeRawPointer(hay.baseAddress!))
            }
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
