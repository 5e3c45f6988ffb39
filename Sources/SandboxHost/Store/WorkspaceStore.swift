import Foundation
import NIOPosix

/// Where each project's files live on the host: `DATA_DIR/workspaces/<project_id>`, which the
/// sandbox mounts as `/workspace`.
public struct WorkspaceStore: Sendable {
    public let root: String
    let threadPool: NIOThreadPool

    public init(root: String, threadPool: NIOThreadPool = .singleton) {
        self.root = root
        self.threadPool = threadPool
    }

    public func path(projectID: String) -> String { root + "/" + projectID }

    public func create(projectID: String) async throws {
        let path = path(projectID: projectID)
        try await threadPool.runIfActive {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
    }

    /// Removes the workspace and everything in it; symlinks inside are removed, never followed.
    public func remove(projectID: String) async throws {
        let path = path(projectID: projectID)
        try await threadPool.runIfActive { try Self.removeTree(path) }
    }

    /// Removes any directory tree the host owns (a project's deployments), links not followed.
    func removeTree(_ path: String) async throws {
        try await threadPool.runIfActive { try Self.removeTree(path) }
    }

    /// Removes workspaces whose project no longer exists (a crash between the row's delete and
    /// the files' removal leaves one behind). Answers how many it removed.
    func removeOrphans(keeping projectIDs: Set<String>) throws -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        var removed = 0
        for name in names where !projectIDs.contains(name) {
            try Self.removeTree(root + "/" + name)
            removed += 1
        }
        return removed
    }

    static func removeTree(_ path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        try FileManager.default.removeItem(atPath: path)
    }
}
