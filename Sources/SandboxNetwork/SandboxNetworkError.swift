/// What went wrong talking to the kernel about the sandboxes' network (nftables, conntrack,
/// namespaces). Never a client's fault: the host logs it and answers a plain 500, or turns
/// networking off at start.
struct SandboxNetworkError: Error, CustomStringConvertible {
    struct Code: Equatable, Sendable, CustomStringConvertible {
        private enum Value: String { case nftables, conntrack, namespace }
        private let value: Value
        /// libnftables refused a batch (its message says why).
        static let nftables = Code(value: .nftables)
        /// `conntrack` failed, or did not end before its deadline.
        static let conntrack = Code(value: .conntrack)
        /// A network namespace could not be entered.
        static let namespace = Code(value: .namespace)
        var description: String { value.rawValue }
    }

    let code: Code
    let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    var description: String { "\(code): \(message)" }
}
