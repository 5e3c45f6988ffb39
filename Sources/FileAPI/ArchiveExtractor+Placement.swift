import CSandbox
#if canImport(Glibc)
import Glibc
#endif

extension ArchiveExtractor {
    /// Removes (and reports) every link in the stage that would resolve outside the target
    /// directory, following links through links as the sandbox would. The stage's directories
    /// are real ones (extraction never follows a link), so a path made of them can be looked up
    /// directly; components that do not exist are taken as plain names. The stage is at most
    /// `maxEntryLevels` deep (deeper entries were skipped), which bounds the recursion and the
    /// descriptors it holds.
    func removeEscapingLinks(_ stage: FileDescriptor, target: WorkspacePath, report: inout ExtractionReport) {
        let mount = ["workspace"] + target.components
        func visit(_ fd: Int32, _ at: [String]) {
            for entry in DirectoryEntry.read(fd) {
                if entry.isDirectory {
                    if let child = DirectoryEntry.openDirectory(fd, entry.name) { visit(child.raw, at + [entry.name]) }
                } else if entry.isSymlink {
                    guard let link = WorkspaceRoot.readLink(in: fd, entry.name),
                          Self.staysInside(stage.raw, from: at, target: link, mount: mount) else {
                        unlinkat(fd, entry.name, 0)
                        report.extracted -= 1
                        report.skipped.append(.init(name: (at + [entry.name]).joined(separator: "/"), reason: "symbolic link points outside the target directory"))
                        continue
                    }
                }
            }
        }
        visit(stage.raw, [])
    }

    /// Whether link `target`, in directory `from` of the stage, resolves inside the stage.
    static func staysInside(_ stage: Int32, from: [String], target: String, mount: [String]) -> Bool {
        var stack = from
        var pending: [String] = []
        var hops = 0
        func push(_ link: String) -> Bool {
            var components = link.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
            if link.hasPrefix("/") {
                guard components.starts(with: mount) else { return false }
                components.removeFirst(mount.count)
                stack = []
            }
            pending.append(contentsOf: components.reversed())
            return true
        }
        guard push(target) else { return false }
        while let component = pending.popLast() {
            if component == "." { continue }
            if component == ".." {
                guard !stack.isEmpty else { return false }
                stack.removeLast()
                continue
            }
            // Nothing in the stage is deeper: a link that resolves past that is refused.
            guard stack.count < maxEntryLevels + mount.count else { return false }
            let candidate = (stack + [component]).joined(separator: "/")
            var info = stat()
            if fstatat(stage, candidate, &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_mode & S_IFMT == S_IFLNK {
                hops += 1
                guard hops <= WorkspaceRoot.maxSymlinkHops, let next = WorkspaceRoot.readLink(in: stage, candidate), push(next) else {
                    return false
                }
            } else {
                stack.append(component)
            }
        }
        return true
    }

    /// Moves the stage's entries into `directory` (made if missing): a directory that exists
    /// there already is merged into, anything else is replaced by rename. The recursion follows
    /// the stage's directories: `maxEntryLevels` deep at most.
    func merge(_ stage: FileDescriptor, into directory: WorkspacePath, report: inout ExtractionReport) throws {
        let location = try root.resolve(directory, followFinal: true, createParents: true)
        let target: FileDescriptor
        if let name = location.name {
            if mkdirat(location.directory.raw, name, 0o755) == 0 {
                fchownat(location.directory.raw, name, root.ownerUID, root.ownerGID, AT_SYMLINK_NOFOLLOW)
            } else if errno != EEXIST {
                throw FileAPIError.system("mkdir", errno, directory)
            }
            guard let opened = DirectoryEntry.openDirectory(location.directory.raw, name) else {
                throw FileAPIError.invalidRequest("\(directory) is not a directory")
            }
            target = opened
        } else {
            guard let opened = DirectoryEntry.openDirectory(location.directory.raw, ".") else {
                throw FileAPIError.invalidRequest("\(directory) is not a directory")
            }
            target = opened
        }
        func move(_ from: Int32, _ to: Int32, _ at: [String]) {
            for entry in DirectoryEntry.read(from) {
                var existing = stat()
                let exists = fstatat(to, entry.name, &existing, AT_SYMLINK_NOFOLLOW) == 0
                let existingIsDirectory = exists && existing.st_mode & S_IFMT == S_IFDIR
                if entry.isDirectory && existingIsDirectory {
                    if let source = DirectoryEntry.openDirectory(from, entry.name),
                       let destination = DirectoryEntry.openDirectory(to, entry.name) {
                        move(source.raw, destination.raw, at + [entry.name])
                    }
                    continue
                }
                if existingIsDirectory || renameat(from, entry.name, to, entry.name) != 0 {
                    report.skipped.append(.init(
                        name: (at + [entry.name]).joined(separator: "/"), reason: "conflicts with an existing directory"))
                }
            }
        }
        move(stage.raw, target.raw, [])
        if report.extracted > 0 { csb_syncfs(target.raw) }
    }
}
