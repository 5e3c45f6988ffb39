import Dispatch
import Synchronization
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
    /// Something was left out: below the depth cap, past the response limits, or a directory
    /// moved away mid-walk.
    public let truncated: Bool
}

extension WorkspaceRoot {
    /// The tree below directory `path`, `depth` levels deep (nil: all), never more than
    /// `maxDepth` (then `truncated` if that left something out), directories first then by name
    /// without regard to case. Heavy directories are listed but not descended into unless `all`.
    /// Links are listed as what they are, never followed. No more nodes and bytes of JSON than
    /// `limits` allow (then `truncated`; which nodes are kept is then up to the walks' pace).
    ///
    /// The first directory's subdirectories are walked on all cores at once (a `node_modules` of
    /// 20,000 files is a few hundred packages), each by a `DirectoryWalk` of its own.
    public func tree(
        _ path: WorkspacePath, depth: Int?, all: Bool, maxDepth: Int = WorkspaceRoot.defaultMaxDepth,
        limits: ResponseLimits = ResponseLimits()
    ) throws -> Tree {
        let directory = try openDirectory(path)
        let base = path.description
        let budget = TreeBudget(limits)
        // The first level here; what it finds to walk into is walked in parallel below.
        var top = TreeBuilder(depth: depth, all: all, budget: budget)
        var walk = DirectoryWalk(maxDepth: nil, sorted: true)
        walk.maxEntriesRead = limits.maxEntries
        for entry in walk.read(directory.raw) {
            if top.visit(DirectoryWalk.Item(entry: entry, directory: directory.raw, level: 1, prefix: base)) == .stop { break }
        }
        let descended = top.nodes.indices.filter { top.nodes[$0].isDirectory && top.wouldDescend(top.nodes[$0].name, level: 1) }
        guard maxDepth > 1, !budget.exhausted else {
            let truncated = budget.exhausted || walk.truncated || descended.contains { DirectoryWalk.hasEntries(directory.raw, top.nodes[$0].name) }
            return Tree(nodes: top.nodes, totalFiles: top.files, basePath: base, truncated: truncated)
        }
        // Each iteration fills its own slot; the lock is taken once per subdirectory walked.
        let results = Mutex<[(nodes: [TreeNode], files: Int, truncated: Bool)?]>(Array(repeating: nil, count: descended.count))
        let nodes = top.nodes
        DispatchQueue.concurrentPerform(iterations: descended.count) { slot in
            let node = nodes[descended[slot]]
            guard let child = DirectoryEntry.openDirectory(directory.raw, node.name) else { return }
            var builder = TreeBuilder(depth: depth, all: all, budget: budget)
            var walk = DirectoryWalk(maxDepth: maxDepth, sorted: true, firstLevel: 2)
            walk.maxEntriesRead = limits.maxEntries
            guard (try? walk.run(child.raw, prefix: node.path, visitor: &builder)) != nil else { return }
            builder.finish()
            let result = (nodes: builder.nodes, files: builder.files, truncated: walk.truncated)
            results.withLock { $0[slot] = result }
        }
        let walked = results.withLock { $0 }
        var merged = top.nodes
        var files = top.files
        var truncated = walk.truncated || budget.exhausted
        for (slot, index) in descended.enumerated() {
            guard let result = walked[slot] else { continue }
            let node = merged[index]
            merged[index] = TreeNode(
                name: node.name, path: node.path, isDirectory: true, isSymlink: false, size: nil, children: result.nodes, heavy: false)
            files += result.files
            truncated = truncated || result.truncated
        }
        return Tree(nodes: merged, totalFiles: files, basePath: base, truncated: truncated)
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

/// Builds the nodes of `tree` from a `DirectoryWalk`: a list per directory being walked, closed
/// into its directory's node when the walk leaves it.
struct TreeBuilder: DirectoryVisitor {
    let depth: Int?
    let all: Bool
    let budget: TreeBudget
    /// The lists being built, outermost first; the innermost belongs to the last node of the one before.
    private var lists: [[TreeNode]] = [[]]
    private(set) var files = 0

    init(depth: Int?, all: Bool, budget: TreeBudget) {
        self.depth = depth
        self.all = all
        self.budget = budget
    }

    /// Closes the directories a stopped walk left open (their nodes keep what was found).
    mutating func finish() {
        while lists.count > 1 { leave() }
    }

    /// The start's own nodes (complete once the walk is over).
    var nodes: [TreeNode] { lists[0] }

    func wouldDescend(_ name: String, level: Int) -> Bool {
        (depth.map { level < $0 } ?? true) && (all || !HeavyDirectories.contains(name))
    }

    mutating func visit(_ item: DirectoryWalk.Item) -> DirectoryWalk.Action {
        let entry = item.entry
        let path = item.path
        guard budget.take(cost: TreeBudget.nodeCost + ResponseLimits.jsonLength(entry.name) + ResponseLimits.jsonLength(path)) else {
            return .stop
        }
        guard entry.isDirectory else {
            files += 1
            lists[lists.count - 1].append(TreeNode(
                name: entry.name, path: path, isDirectory: false, isSymlink: entry.isSymlink, size: entry.size, children: nil,
                heavy: false))
            return .next
        }
        lists[lists.count - 1].append(TreeNode(
            name: entry.name, path: path, isDirectory: true, isSymlink: false, size: nil, children: nil,
            heavy: !all && HeavyDirectories.contains(entry.name)))
        return wouldDescend(entry.name, level: item.level) ? .descend : .next
    }

    mutating func enter(_ item: DirectoryWalk.Item) {
        lists.append([])
    }

    mutating func leave() {
        let children = lists.removeLast()
        let last = lists[lists.count - 1].count - 1
        let node = lists[lists.count - 1][last]
        lists[lists.count - 1][last] = TreeNode(
            name: node.name, path: node.path, isDirectory: true, isSymlink: false, size: nil, children: children, heavy: node.heavy)
    }
}
