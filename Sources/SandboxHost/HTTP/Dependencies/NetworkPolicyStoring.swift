import SandboxRuntime

/// Writes a sandbox's network policy (its project's row), scoped to the owner.
protocol NetworkPolicyStoring: Sendable {
    /// False when the sandbox is gone or not the caller's.
    func setNetwork(sandboxID: String, userID: String, _ policy: NetworkPolicy) async throws -> Bool
}

extension SandboxStore: NetworkPolicyStoring {}
