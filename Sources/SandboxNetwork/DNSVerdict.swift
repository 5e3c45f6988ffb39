import SandboxRuntime

/// What the resolver does with a sandbox's question under its policy (API.md, "Network", DNS).
enum DNSVerdict: Sendable, Equatable {
    /// No answer at all (`none` mode: the sandbox has no resolver).
    case drop
    /// NXDOMAIN without asking upstream: a `deny_out` name, or a name `allowlist` mode does not list.
    case nameError
    /// Asked upstream. `learn`: the answer's addresses become reachable (`allowlist` mode), and
    /// the answer waits until they are.
    case forward(learn: Bool)

    /// `deny_out` names win in every mode; `allowlist` forwards only `allow_out` names; `open`
    /// forwards the rest.
    init(policy: NetworkPolicy, name: DNSName) {
        switch policy.mode {
        case .none:
            self = .drop
        case .open:
            self = policy.denyOut.contains(where: name.matches) ? .nameError : .forward(learn: false)
        case .allowlist:
            if policy.denyOut.contains(where: name.matches) {
                self = .nameError
            } else {
                self = policy.allowOut.contains(where: name.matches) ? .forward(learn: true) : .nameError
            }
        }
    }
}
