import FileAPI

/// The watched directories of one project, by watch descriptor: each knows its parent and its
/// name, so a path is rebuilt from the chain when an event needs it, and a renamed directory is
/// one relink however much lies below it. The workspace directory is the one root (parent nil).
/// Not thread-safe: the project watcher's thread owns it.
struct WatchTree {
    struct Node {
        var parent: Int32?
        /// Raw bytes, as the directory names it.
        var name: [UInt8]
        var children: [[UInt8]: Int32] = [:]
        let inode: UInt64
        /// One of the heavy directories (`node_modules`, `.git`, …) by name.
        var isHeavy: Bool

        static func heavy(_ name: [UInt8]) -> Bool { HeavyDirectories.contains(String(decoding: name, as: UTF8.self)) }
    }

    private(set) var nodes: [Int32: Node] = [:]
    private var byInode: [UInt64: Int32] = [:]

    /// A chain longer than this is a bug (a cycle), not a tree: paths stop there.
    static let maxChain = 4_096

    var count: Int { nodes.count }

    subscript(wd: Int32) -> Node? { nodes[wd] }

    func child(of wd: Int32, named name: [UInt8]) -> Int32? { nodes[wd]?.children[name] }

    func watched(inode: UInt64) -> Int32? { byInode[inode] }

    /// Records `wd` at `name` in `parent` (nil: the root); a wd already known is moved there.
    mutating func insert(_ wd: Int32, parent: Int32?, name: [UInt8], inode: UInt64) {
        if nodes[wd] != nil {
            relink(wd, parent: parent, name: name)
            return
        }
        nodes[wd] = Node(parent: parent, name: name, inode: inode, isHeavy: Node.heavy(name))
        byInode[inode] = wd
        if let parent { nodes[parent]?.children[name] = wd }
    }

    /// The directory `wd` is now `name` in `parent` (a rename).
    mutating func relink(_ wd: Int32, parent: Int32?, name: [UInt8]) {
        guard let node = nodes[wd] else { return }
        if let old = node.parent, nodes[old]?.children[node.name] == wd { nodes[old]?.children.removeValue(forKey: node.name) }
        nodes[wd]?.parent = parent
        nodes[wd]?.name = name
        nodes[wd]?.isHeavy = Node.heavy(name)
        if let parent { nodes[parent]?.children[name] = wd }
    }

    /// Forgets `wd` and every directory below it; answers the wds forgotten (to unwatch).
    @discardableResult
    mutating func remove(_ wd: Int32) -> [Int32] {
        guard let node = nodes[wd] else { return [] }
        if let parent = node.parent, nodes[parent]?.children[node.name] == wd {
            nodes[parent]?.children.removeValue(forKey: node.name)
        }
        var removed: [Int32] = []
        var pending = [wd]
        while let next = pending.popLast() {
            guard let gone = nodes.removeValue(forKey: next) else { continue }
            if byInode[gone.inode] == next { byInode.removeValue(forKey: gone.inode) }
            removed.append(next)
            pending.append(contentsOf: gone.children.values)
        }
        return removed
    }

    /// The names from the root down to `wd` (empty for the root); nil if `wd` is unknown or not
    /// connected to the root.
    func names(to wd: Int32) -> [[UInt8]]? {
        var names: [[UInt8]] = []
        var current = wd
        for _ in 0..<Self.maxChain {
            guard let node = nodes[current] else { return nil }
            guard let parent = node.parent else { return names.reversed() }
            names.append(node.name)
            current = parent
        }
        return nil
    }

    /// The directories from the root down to `wd`, root first; nil as for `names`.
    func chain(to wd: Int32) -> [Node]? {
        var chain: [Node] = []
        var current = wd
        for _ in 0..<Self.maxChain {
            guard let node = nodes[current] else { return nil }
            chain.append(node)
            guard let parent = node.parent else { return chain.reversed() }
            current = parent
        }
        return nil
    }

    /// `/workspace/…` of `wd`, with `name` below it when given.
    func path(_ wd: Int32, _ name: [UInt8]? = nil) -> String? {
        guard var names = names(to: wd) else { return nil }
        if let name { names.append(name) }
        return Self.display(names)
    }

    static func display(_ names: [[UInt8]]) -> String {
        names.reduce("/workspace") { $0 + "/" + String(decoding: $1, as: UTF8.self) }
    }
}
