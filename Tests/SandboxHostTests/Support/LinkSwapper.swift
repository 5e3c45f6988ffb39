import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Replaces `tree/d<i>` with a link to the canary, for each i: first those the walker is inside
/// (its `sub` was just written to, or got a new owner), then any other still a directory.
final class LinkSwapper: @unchecked Sendable {
    let tree: String
    let canary: String
    let count: Int
    let watchOwner: Bool
    private let stopped = Atomic<Bool>(false)
    private let swapped = Atomic<Int>(0)
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)

    init(tree: String, canary: String, count: Int, watchOwner: Bool) {
        self.tree = tree
        self.canary = canary
        self.count = count
        self.watchOwner = watchOwner
    }

    var swaps: Int { swapped.load(ordering: .relaxed) }

    func start() {
        var initial: [stat] = []
        for index in 0..<count {
            var info = stat()
            lstat(tree + "/d\(index)/sub", &info)
            initial.append(info)
        }
        let thread = Thread { [self, initial] in
            var pending = Set(0..<count)
            var spins = 0
            while !stopped.load(ordering: .relaxed) && !pending.isEmpty {
                spins += 1
                for index in pending.sorted() {
                    var info = stat()
                    let path = tree + "/d\(index)"
                    guard lstat(path + "/sub", &info) == 0 else {
                        if lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, spins % 64 == 0 { swap(index, &pending) }
                        continue
                    }
                    let touched = watchOwner
                        ? info.st_uid != initial[index].st_uid
                        : info.st_mtim.tv_nsec != initial[index].st_mtim.tv_nsec || info.st_mtim.tv_sec != initial[index].st_mtim.tv_sec
                    // Inside: swap now. Not yet visited: swap some of those too, now and then.
                    if touched || (spins % 512 == 0 && index % 3 == 0) { swap(index, &pending) }
                }
            }
            done.signal()
        }
        self.thread = thread
        thread.start()
    }

    private func swap(_ index: Int, _ pending: inout Set<Int>) {
        let path = tree + "/d\(index)"
        pending.remove(index)
        guard rename(path, tree + "/moved\(index)") == 0 else { return }
        if symlink(canary, path) == 0 { swapped.add(1, ordering: .relaxed) }
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        done.wait()
    }
}


/// A canary directory outside any tree a test walks: `f0…f4` and `sub/f0…sub/f<n>` (the shape
/// of the trees the swap tests build, so a walker that resolves a path through a swapped-in
/// link lands on its files). Owned by root, as a host file would be.
struct Canary {
    let path: String
    let files: Int

    init(in directory: String, files: Int = 300) throws {
        path = directory + "/canary"
        self.files = files
        try FileManager.default.createDirectory(atPath: path + "/sub", withIntermediateDirectories: true)
        for index in 0..<5 { close(open(path + "/f\(index)", O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)) }
        for index in 0..<files { close(open(path + "/sub/f\(index)", O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)) }
    }

    /// What is wrong with it now: missing files, or files that changed owner.
    func damage() -> [String] {
        var problems: [String] = []
        let expected = (0..<5).map { "f\($0)" } + ["sub"] + (0..<files).map { "sub/f\($0)" }
        for name in expected {
            var info = stat()
            if lstat(path + "/" + name, &info) != 0 {
                problems.append("\(name) missing")
            } else if info.st_uid != 0 || info.st_gid != 0 {
                problems.append("\(name) owned by \(info.st_uid)")
            }
        }
        return problems
    }

    /// `tree/d<i>/sub/f<j>`: the shape the canary mirrors.
    static func populate(_ tree: String, directories: Int, files: Int) throws {
        for index in 0..<directories {
            let sub = tree + "/d\(index)/sub"
            try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
            for file in 0..<files { close(open(sub + "/f\(file)", O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)) }
        }
    }
}
