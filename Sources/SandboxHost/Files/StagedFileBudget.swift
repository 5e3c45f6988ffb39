import Synchronization

/// Staged files (each an open descriptor until its upload ends) held by all multipart uploads
/// at once. The per-form cap (`MultipartLimits.maxFiles`) alone would let a few concurrent
/// forms of empty parts take every descriptor of the process.
final class StagedFileBudget: Sendable {
    /// One per process: descriptors are a process resource.
    static let shared = StagedFileBudget()

    private let held = Mutex(0)

    /// Takes one place if fewer than `limit` are held.
    func take(limit: Int) -> Bool {
        held.withLock { held in
            guard held < limit else { return false }
            held += 1
            return true
        }
    }

    func release(_ count: Int) {
        guard count > 0 else { return }
        held.withLock { $0 = max(0, $0 - count) }
    }

    /// Places held now (tests).
    var count: Int { held.withLock { $0 } }
}
