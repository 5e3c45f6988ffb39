import FileAPI
import Foundation
import Testing
@testable import SandboxHost
@testable import SandboxRuntime
#if canImport(Glibc)
import Glibc
#endif

extension HeavySuites {
    /// The host's removals and ownership changes of tenant-writable trees (a workspace, a sandbox's
    /// layers, the staging directory) against a tree that changes under them: a directory swapped for
    /// a link to a canary outside the tree must never lead the host into the canary.
    @Suite struct TreeRemovalTests {
        /// Rounds alternate removal (`WorkspaceStore.removeTree`, what project and sandbox deletes
        /// use) and ownership change (`RootfsBuilder.chownTree`, what a sandbox's start does to its
        /// workspace), while a thread replaces directories the walk is in, or has not reached, with
        /// links to the canary.
        @Test(.timeLimit(.minutes(5))) func swappedDirectoriesNeverLeadOutOfTheTree() throws {
            for round in 0..<6 {
                let base = try TemporaryDirectory.make()
                defer { _ = try? TreeRemover().remove(path: base) }
                let canary = try Canary(in: base)
                let tree = base + "/tree"
                try Canary.populate(tree, directories: 40, files: 300)
                let removing = round % 2 == 0
                let swapper = LinkSwapper(tree: tree, canary: canary.path, count: 40, watchOwner: !removing)
                swapper.start()
                if removing {
                    _ = try? WorkspaceStore.removeTree(tree)
                } else {
                    RootfsBuilder.chownTree(tree, uidBase: 3_000_000, fromBase: nil)
                }
                swapper.stop()
                #expect(swapper.swaps > 0, "round \(round)")
                let damage = canary.damage()
                #expect(damage.isEmpty, "round \(round) (\(removing ? "remove" : "chown")): \(damage.count) canary files hit, e.g. \(damage.prefix(3))")
                if removing {
                    try WorkspaceStore.removeTree(tree)
                    #expect(!FileManager.default.fileExists(atPath: tree))
                }
            }
        }

        /// A 20,000-level chain in a workspace (its path is far longer than PATH_MAX): removed.
        @Test(.timeLimit(.minutes(5))) func deepTreesAreRemoved() throws {
            let base = try TemporaryDirectory.make()
            defer { _ = try? TreeRemover().remove(path: base) }
            var fd = open(base, O_RDONLY | O_DIRECTORY)
            for _ in 0..<20_000 {
                #expect(mkdirat(fd, "d", 0o755) == 0)
                let next = openat(fd, "d", O_RDONLY | O_DIRECTORY)
                close(fd)
                fd = next
            }
            close(fd)
            #expect(throws: Never.self) { try WorkspaceStore.removeTree(base + "/d") }
            #expect(!FileManager.default.fileExists(atPath: base + "/d"))
        }

        /// A workspace handed from one sandbox's id range to another's: ids of the old range move
        /// with it, host ids become the new root, links are changed themselves, never followed.
        @Test func workspaceOwnershipMovesBetweenRanges() throws {
            let base = try TemporaryDirectory.make()
            defer { _ = try? TreeRemover().remove(path: base) }
            let canary = try Canary(in: base, files: 3)
            let workspace = base + "/ws"
            let (old, new): (UInt32, UInt32) = (1 << 20, 2 << 20)
            try FileManager.default.createDirectory(atPath: workspace + "/src", withIntermediateDirectories: true)
            close(open(workspace + "/src/a", O_CREAT | O_WRONLY, 0o644))
            close(open(workspace + "/host-file", O_CREAT | O_WRONLY, 0o644))
            symlink(canary.path, workspace + "/src/out")
            lchown(workspace, old, old)
            lchown(workspace + "/src", old + 1000, old + 1000)
            lchown(workspace + "/src/a", old + 5, old + 7)
            lchown(workspace + "/src/out", old, old)
            RootfsBuilder.chownTree(workspace, uidBase: new, fromBase: old)
            func owner(_ path: String) -> (uid_t, gid_t) {
                var info = stat()
                lstat(workspace + path, &info)
                return (info.st_uid, info.st_gid)
            }
            #expect(owner("") == (new, new))
            #expect(owner("/src") == (new + 1000, new + 1000))
            #expect(owner("/src/a") == (new + 5, new + 7))
            #expect(owner("/src/out") == (new, new))
            #expect(owner("/host-file") == (new, new))
            #expect(canary.damage().isEmpty)
        }
    }
}
