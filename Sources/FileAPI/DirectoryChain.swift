#if canImport(Glibc)
import Glibc
#endif

/// The directories from the start of a walk down to where it is now, holding at most
/// `maxOpen` of them open, however deep the walk goes.
///
/// Each level records its name in the level above and its (`st_dev`, `st_ino`). When the budget
/// is reached, levels between the start and the bottom are closed, where open levels lie densest;
/// a closed level is opened again when the walk climbs back to it, by name from the nearest open
/// level above it, one `openat(O_NOFOLLOW | O_DIRECTORY)` per level, each checked to be the same
/// directory as before. Never through `..` (a tenant can move a directory under us, and `..` then
/// leads wherever it was moved to), never by path. A level that is gone, or is now another
/// directory or a link, ends the chain there (`openBottom` answers false): the caller goes on
/// from the level above, which it scans again.
///
/// Cost: `openBottom` keeps what it re-opens spread evenly from the nearest open level down, in
/// half the budget, so climbing back out of a 20,000-level chain costs about 6 opens per level
/// with a budget of 64 and 14 with 32 (simulated), not depth²/budget.
///
/// Not thread-safe; owns every descriptor it holds and closes them on `close()`/`deinit`.
final class DirectoryChain {
    struct Level {
        let name: [CChar]
        let device: dev_t
        let inode: ino_t
        var fd: Int32
    }

    private(set) var levels: [Level] = []
    /// Indices of the open levels, ascending; never more than `maxOpen` between calls.
    private var open: [Int] = []
    let maxOpen: Int
    /// The most directory descriptors held at once (for tests and reports).
    private(set) var peakOpen = 0

    static let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC

    /// Takes ownership of `fd`, the start directory, named `name` in its parent.
    init(start fd: Int32, name: [CChar], maxOpen: Int) {
        self.maxOpen = max(4, maxOpen)
        var info = stat()
        fstat(fd, &info)
        levels.append(Level(name: name, device: info.st_dev, inode: info.st_ino, fd: fd))
        open = [0]
        peakOpen = 1
    }

    deinit { close() }

    var count: Int { levels.count }
    var device: dev_t { levels[0].device }
    /// The bottom level's descriptor; valid after `openBottom()` answered true.
    var bottomFD: Int32 { levels[levels.count - 1].fd }
    var bottomName: [CChar] { levels[levels.count - 1].name }

    /// Closes a level if needed so that one more directory can be opened within the budget:
    /// call before opening the one to `push`.
    func makeRoom() {
        shed(to: maxOpen - 1)
    }

    /// Adds `fd` (an open directory named `name` in the bottom level) below the bottom.
    func push(_ fd: Int32, name: [CChar], info: stat) {
        levels.append(Level(name: name, device: info.st_dev, inode: info.st_ino, fd: fd))
        open.append(levels.count - 1)
        peakOpen = max(peakOpen, open.count)
        shed(to: maxOpen)
    }

    /// Removes the bottom level, closing it.
    func pop() {
        let level = levels.removeLast()
        if level.fd >= 0 {
            Glibc.close(level.fd)
            open.removeLast()
        }
    }

    /// Makes sure the bottom level is open, re-deriving it from the nearest open level above by
    /// name. False when that failed: the chain was cut at the first level that is no longer the
    /// same directory (that level and those below it are gone from the chain).
    func openBottom() -> Bool {
        let target = levels.count - 1
        if levels[target].fd >= 0 { return true }
        // Half the budget for the levels above (spread over them by `shed`), the other half
        // spread evenly over the stretch re-opened now, the bottom included: climbing on, each
        // later re-derivation starts nearby. Two below the budget while walking: the level just
        // opened and the one before it (kept or not) are held too.
        shed(to: maxOpen / 2)
        let anchor = open[open.count - 1]
        let free = max(1, maxOpen - 2 - open.count)
        let every = max(1, (target - anchor + free - 1) / free)
        var previous = levels[anchor].fd
        var previousKept = true
        for index in (anchor + 1)...target {
            let fd = openat(previous, levels[index].name, Self.flags)
            var info = stat()
            let same = fd >= 0 && fstat(fd, &info) == 0
                && info.st_dev == levels[index].device && info.st_ino == levels[index].inode
            peakOpen = max(peakOpen, open.count + (previousKept ? 0 : 1) + 1)
            if !previousKept { Glibc.close(previous) }
            guard same else {
                if fd >= 0 { Glibc.close(fd) }
                cut(at: index)
                return false
            }
            let keep = index == target || (index - anchor) % every == 0
            if keep {
                levels[index].fd = fd
                open.append(index)
                shed(to: maxOpen - 2)
            }
            previous = fd
            previousKept = keep
        }
        return true
    }

    /// Closes everything held.
    func close() {
        for index in open { Glibc.close(levels[index].fd) }
        open.removeAll()
        levels.removeAll()
    }

    /// Removes `index` and every level below it from the chain.
    private func cut(at index: Int) {
        while levels.count > index { pop() }
    }

    /// Closes levels until the budget holds: never the start or the bottom; otherwise the level
    /// whose open neighbours are closest together, so what stays open is spread over the chain.
    private func shed(to limit: Int) {
        while open.count > max(2, limit) {
            var victim = 1
            var smallest = Int.max
            for position in 1..<(open.count - 1) {
                let gap = open[position + 1] - open[position - 1]
                if gap < smallest {
                    smallest = gap
                    victim = position
                }
            }
            let index = open.remove(at: victim)
            Glibc.close(levels[index].fd)
            levels[index].fd = -1
        }
    }
}
