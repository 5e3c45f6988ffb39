import CNftables

/// libnftables, in-process: a batch of `nft` commands runs as one netlink transaction (all or
/// nothing), without a fork/exec of `nft`. One context per call (a context is cheap next to the
/// transaction and keeps no state between calls), so calls from several threads need no lock.
/// Every call is blocking and short (one netlink exchange): run it off the cooperative pool.
struct Nftables: Sendable {
    /// A network namespace (nsfs fd) each call runs in; nil: the calling thread's (the host's).
    let namespace: Int32?

    init(namespace: Int32? = nil) {
        self.namespace = namespace
    }

    /// Runs `commands` (nft's language, one command a line) as one transaction and answers what
    /// nft printed (listings). Throws nft's own message when the kernel or the parser refuses.
    @discardableResult
    func run(_ commands: String) throws -> String {
        try NetworkNamespaceEntry.inside(namespace) {
            guard let context = nft_ctx_new(UInt32(NFT_CTX_DEFAULT)) else {
                throw SandboxNetworkError(.nftables, "nft_ctx_new failed")
            }
            defer { nft_ctx_free(context) }
            _ = nft_ctx_buffer_output(context)
            _ = nft_ctx_buffer_error(context)
            let status = nft_run_cmd_from_buffer(context, commands)
            guard status == 0 else {
                let message = nft_ctx_get_error_buffer(context).map { String(cString: $0) } ?? ""
                throw SandboxNetworkError(.nftables, message.isEmpty ? "nft status \(status)" : Self.trimmed(message))
            }
            return nft_ctx_get_output_buffer(context).map { String(cString: $0) } ?? ""
        }
    }

    /// nft's messages quote the whole offending line and underline it; the first lines say enough.
    private static func trimmed(_ message: String) -> String {
        String(message.split(separator: "\n").prefix(6).joined(separator: " | ").prefix(1024))
    }
}
