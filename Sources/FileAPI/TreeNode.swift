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
        var totalFiles = 0
        func walk(_ fd: Int32, _ at: WorkspacePath, level: Int) -> [TreeNode] {
            DirectoryEntry.read(fd).sorted(by: Self.treeOrder).map { entry in
                let childPath = at.appending(entry.name)
                guard entry.isDirectory else {
                    totalFiles += 1
                    return TreeNode(
                        name: entry.name, path: childPath.description, isDirectory: false, isSymlink: entry.isSymlink,
                        size: Int64(entry.info.st_size), children: nil, heavy: false)
                }
                let heavy = !all && HeavyDirectories.contains(entry.name)
                var children: [TreeNode]?
                if !heavy, depth.map({ level < $0 }) ?? true, let child = DirectoryEntry.openDirectory(fd, entry.name) {
                    children = walk(child.raw, childPath, level: level + 1)
                }
                return TreeNode(
                    name: entry.name, path: childPath.description, isDirectory: true, isSymlink: false,
                    size: nil, children: children, heavy: heavy)
            }
        }
        let nodes = walk(directory.raw, path, level: 1)
        return Tree(nodes: nodes, totalFiles: totalFiles, basePath: path.description)
    }

    static func treeOrder(_ a: DirectoryEntry, _ b: DirectoryEntry) -> Bool {
        if a.isDirectory != b.isDirectory { return a.isDirectory }
        let (left, right) = (a.name.lowercased(), b.name.lowercased())
        return left != right ? left < right : a.name < b.name
    }
}
