import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// One node of `GET …/files/tree`.
public struct TreeNode: Sendable {
    public let name: String
    public let path: String
    public let isDirectory: Bool
    public let isSymlink: Bool
    /// Files only.
    public let size: Int64?
    /// Directories only; nil where the walk stopped (depth reached, or a heavy directory).
    public let children: [TreeNode]?
    /// A heavy directory (`node_modules`, …) listed but not descended into.
    public let heavy: Bool
}

/// The answer of `tree`: the children of the base path and how many files they hold in all.
public struct Tree: Sendable {
    public let nodes: [TreeNode]
    public let totalFiles: Int
    public let basePath: String
}

extension WorkspaceRoot {
    /// The tree below directory `path`, `depth` levels deep (nil: all), directories first then by
    /// name without regard to case. Heavy directories are listed but not descended into unless
    /// `all`. Links are listed as what they are, never followed.
    public func tree(_ path: WorkspacePath, depth: Int?, all: Bool) throws -> Tree {
        let directory = try openDirectory(path)
        let walker = TreeWalker(depth: depth, all: all)
        let (nodes, totalFiles) = walker.walk(directory.raw, path.description, level: 1, parallel: true)
        return Tree(nodes: nodes, totalFiles: totalFiles, basePath: path.description)
    }

    /// `lowercased()`, with a fast path for ASCII names (nearly all of them).
    static func lowered(_ name: String) -> String {
        guard name.utf8.allSatisfy({ $0 < 0x80 }) else { return name.lowercased() }
        guard name.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) else { return name }
        return String(decoding: name.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 32 : $0 }, as: UTF8.self)
    }

    /// Directories first, then by name without regard to case (then with it, so the order is total).
    /// Each name is lowered once, not at every comparison.
    static func sortedForTree(_ entries: [DirectoryEntry]) -> [DirectoryEntry] {
        let keys = entries.map { ($0.isDirectory, Self.lowered($0.name)) }
        return entries.indices.sorted { a, b in
            if keys[a].0 != keys[b].0 { return keys[a].0 }
            return keys[a].1 != keys[b].1 ? keys[a].1 < keys[b].1 : entries[a].name < entries[b].name
        }.map { entries[$0] }
    }

}

/// The walk behind `tree`. The first directory with several subdirectories has them walked on
/// all cores at once (a `node_modules` of 20,000 files is a few hundred packages); below that,
/// one thread per subtree. Paths are built as strings from the parent's, one append per node.
struct TreeWalker: Sendable {
    let depth: Int?
    let all: Bool

    func walk(_ fd: Int32, _ prefix: String, level: Int, parallel: Bool) -> (nodes: [TreeNode], files: Int) {
        let entries = WorkspaceRoot.sortedForTree(DirectoryEntry.read(fd))
        let descend = depth.map { level < $0 } ?? true
        let subdirectories = entries.indices.filter { entries[$0].isDirectory && descend && (all || !HeavyDirectories.contains(entries[$0].name)) }
        var children = [[TreeNode]?](repeating: nil, count: entries.count)
        var files = 0
        if parallel && subdirectories.count >= 2 {
            // Each iteration writes only its own slot.
            nonisolated(unsafe) let results = UnsafeMutableBufferPointer<([TreeNode], Int)?>.allocate(capacity: subdirectories.count)
            results.initialize(repeating: nil)
            defer { results.deinitialize(); results.deallocate() }
            DispatchQueue.concurrentPerform(iterations: subdirectories.count) { slot in
                let index = subdirectories[slot]
                guard let child = DirectoryEntry.openDirectory(fd, entries[index].name) else { return }
                results[slot] = walk(child.raw, prefix + "/" + entries[index].name, level: level + 1, parallel: false)
            }
            for (slot, index) in subdirectories.enumerated() {
                if let (nodes, count) = results[slot] { children[index] = nodes; files += count }
            }
        } else {
            for index in subdirectories {
                guard let child = DirectoryEntry.openDirectory(fd, entries[index].name) else { continue }
                let (nodes, count) = walk(child.raw, prefix + "/" + entries[index].name, level: level + 1, parallel: parallel)
                children[index] = nodes
                files += count
            }
        }
        let nodes = entries.indices.map { index -> TreeNode in
            let entry = entries[index]
            let path = prefix + "/" + entry.name
            guard entry.isDirectory else {
                files += 1
                return TreeNode(name: entry.name, path: path, isDirectory: false, isSymlink: entry.isSymlink, size: entry.size, children: nil, heavy: false)
            }
            return TreeNode(
                name: entry.name, path: path, isDirectory: true, isSymlink: false, size: nil, children: children[index],
                heavy: !all && HeavyDirectories.contains(entry.name))
        }
        return (nodes, files)
    }
}
