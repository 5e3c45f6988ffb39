import Foundation
import Synchronization

/// Hands a sandbox's network attachment from the task that makes it to the start's own thread,
/// which prepares the volume and cgroups meanwhile and waits here only for what is left: the
/// two overlap. The wait blocks that dedicated thread (never a shared one), and is bounded by
/// the attach's own deadlines (netlink and nftables calls are bounded).
final class AttachmentHandoff: Sendable {
    private let result = Mutex<Result<NetworkAttachment?, any Error>?>(nil)
    private let ready = DispatchSemaphore(value: 0)

    func fulfil(_ outcome: Result<NetworkAttachment?, any Error>) {
        result.withLock { $0 = outcome }
        ready.signal()
    }

    /// Blocks until `fulfil`; call from a thread of its own only.
    func wait() throws -> NetworkAttachment? {
        ready.wait()
        ready.signal()  // a second wait (none today) returns at once
        return try result.withLock { $0 }!.get()
    }
}
