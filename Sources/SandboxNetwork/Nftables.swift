import CNftables
import Synchronization

/// libnftables, in-process: a batch of `nft` commands runs as one netlink transaction (all or
/// nothing), without a fork/exec of `nft`. One context, kept and used under a lock: a context
/// made per call cost ~15 ms for any transaction that deletes something (measured: 0.5–1 ms with
/// a kept one), and calls are short. Every call blocks (one netlink exchange): run it off the
/// cooperative pool.
final class Nftables: Sendable {
    /// A network namespace (nsfs fd) the context's socket is made in (tests); nil: the host's.
    let namespace: Int32?
    private let context = Mutex<OpaquePointer?>(nil)

    init(namespace: Int32? = nil) {
        self.namespace = namespace
    }

    deinit {
        context.withLock { context in
            if let made = context { nft_ctx_free(made) }
            context = nil
        }
    }

    /// Runs `commands` (nft's language, one command a line) as one transaction and answers what
    /// nft printed (listings). Throws nft's own message when the kernel or the parser refuses.
    @discardableResult
    func run(_ commands: String) throws -> String {
        try context.withLock { context in
            let made: OpaquePointer
            if let existing = context {
                made = existing
            } else {
                // The netlink socket belongs to the namespace the thread is in when it is made.
                made = try NetworkNamespaceEntry.inside(namespace) {
                    guard let made = nft_ctx_new(UInt32(NFT_CTX_DEFAULT)) else {
                        throw NetworkError("nftables: nft_ctx_new failed")
                    }
                    _ = nft_ctx_buffer_output(made)
                    _ = nft_ctx_buffer_error(made)
                    return made
                }
                context = made
            }
            // Each read of a buffer also empties it for the next call.
            let status = try NetworkNamespaceEntry.inside(namespace) { nft_run_cmd_from_buffer(made, commands) }
            let output = nft_ctx_get_output_buffer(made).map { String(cString: $0) } ?? ""
            let message = nft_ctx_get_error_buffer(made).map { String(cString: $0) } ?? ""
            guard status == 0 else {
                throw NetworkError("nftables: " + (message.isEmpty ? "status \(status)" : Self.trimmed(message)))
            }
            return output
        }
    }

    /// nft's messages quote the whole offending line and underline it; the first lines say enough.
    private static func trimmed(_ message: String) -> String {
        String(message.split(separator: "\n").prefix(6).joined(separator: " | ").prefix(1024))
    }
}
