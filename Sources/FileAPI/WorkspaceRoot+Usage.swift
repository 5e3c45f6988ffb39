extension WorkspaceRoot {
    /// The disk space the workspace uses, in bytes (allocated blocks, links not followed), however
    /// deep it goes: a `DirectoryWalk` without a depth cap (a quota that stopped counting at some
    /// depth could be escaped by nesting), so still two directory descriptors at most and no
    /// recursion on the stack.
    ///
    /// A walk cut short (a directory moved under it while it climbed back) would under-count and
    /// let a write past the quota: it is tried again, and after three cut-short walks the answer
    /// is `Int64.max` (nothing left), never a partial count.
    public func diskUsage() -> Int64 {
        for _ in 0..<3 {
            var counter = UsageCounter()
            var walk = DirectoryWalk(maxDepth: nil, sorted: false)
            try? walk.run(fd, prefix: "", visitor: &counter)
            if !walk.truncated { return counter.bytes }
        }
        return .max
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
