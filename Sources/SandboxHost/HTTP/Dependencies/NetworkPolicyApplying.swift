import SandboxRuntime

/// The policy in force for a sandbox, and changing it (persisted by the caller's closure first,
/// then applied to the running sandbox).
protocol NetworkPolicyApplying: Sendable {
    func networkPolicy(for record: SandboxRecord) async -> NetworkPolicy
    func updateNetworkPolicy(
        sandboxID: String, policy: NetworkPolicy, persist: @escaping @Sendable () async throws -> Void
    ) async throws
}

extension SandboxRuntime: NetworkPolicyApplying {}
