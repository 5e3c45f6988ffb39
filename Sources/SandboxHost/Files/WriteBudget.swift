import FileAPI

/// What a write into a project may add, and a whole file written within it: the one place the
/// file routes, the agent's `write_file` and MCP's `write_file` take their limits from. Blocking
/// (statvfs, the quota walk, the write): call on a thread of its own.
struct WriteBudget: Sendable {
    let configuration: HostConfiguration
    /// The project's staging directory, on its own volume when it has one.
    let staging: String
    let usesDiskImages: Bool

    /// Bytes the write may add: 507 when the host's own disk is below its reserve; then the
    /// volume's free space (writes past it fail with ENOSPC, 413), or without volumes what the
    /// workspace quota leaves (a walk of the tree).
    func spaceLeft(_ root: WorkspaceRoot) throws -> Int64 {
        try DataDisk.checkReserve(configuration)
        if usesDiskImages { return DataDisk.freeBytes(staging) ?? .max }
        return max(0, configuration.workspaceQuotaBytes - root.diskUsage())
    }

    /// `bytes` as the file at `path`, written atomically (staged, then linked into place).
    /// Answers its size.
    func writeWhole(_ bytes: [UInt8], to path: WorkspacePath, in root: WorkspaceRoot) throws -> Int64 {
        let writer = try AtomicFileWriter(stagingDirectory: staging, maxBytes: configuration.maxUploadBytes, spaceLeft: try spaceLeft(root))
        try writer.write(bytes)
        try writer.commit(to: path, in: root)
        return writer.size
    }
}
