extension WorkspaceRoot {
    /// The disk space the workspace uses, in bytes (allocated blocks, links not followed), however
    /// deep it goes: a `DirectoryWalk` without a depth cap (a quota that stopped counting at some
    /// depth could be escaped by nesting), so still two directory descriptors at most and no
    /// recursion on the stack.
    public func diskUsage() -> Int64 {
        var counter = UsageCounter()
        var walk = DirectoryWalk(maxDepth: nil, sorted: false)
        try? walk.run(fd, prefix: "", visitor: &counter)
        return counter.bytes
    }
}

/// The visitor behind `diskUsage`: adds up every entry's blocks.
struct UsageCounter: DirectoryVisitor {
    private(set) var bytes: Int64 = 0

    mutating func visit(_ item: DirectoryWalk.Item) -> DirectoryWalk.Action {
        bytes += item.entry.blocks * 512
        return item.entry.isDirectory ? .descend : .next
    }
}
