import FileAPI
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
    /// On a thread of its own: the tree's size is the tenant's.
    public func remove(projectID: String) async throws {
        let path = path(projectID: projectID)
        try await DedicatedThread.run("remove workspace") { try Self.removeTree(path) }
    }

    /// Removes a project's other tree (its deployments), links not followed.
    func removeTree(_ path: String) async throws {
        try await DedicatedThread.run("remove tree") { try Self.removeTree(path) }
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

    /// Removes `path` (missing: nothing to do) by descriptor, never following a link, however
    /// the tree changes meanwhile (`TreeRemover`); only `path`'s parent is opened by path.
    static func removeTree(_ path: String) throws {
        try TreeRemover().remove(path: path)
    }
}
