/// A sandbox's network policy: which one is in force, and changing it.
///
/// A change is persisted first, then applied to the running sandbox (`SandboxNetworking.apply`);
/// a stopped sandbox gets it when it next starts. Changes to one sandbox run one after the other
/// in the order they came, so the policy in the kernel is always the last one persisted. A start
/// uses `networkPolicy(for:)`, which knows a change newer than the record its caller read.
extension SandboxRuntime {
    /// The policy a sandbox gets now: the last one set through this runtime, else its record's,
    /// else the host default (`RuntimeConfiguration.defaultNetworkPolicy`).
    public func networkPolicy(for record: SandboxRecord) -> NetworkPolicy {
        networkPolicies[record.id] ?? record.network ?? configuration.defaultNetworkPolicy
    }

    /// Sets a sandbox's policy: `persist` (the store's write) first, then the running sandbox
    /// follows it (a start in flight is waited for, then the sandbox it started is updated).
    /// Throws what `persist` or the networking throws; a failed `persist` changes nothing.
    public func updateNetworkPolicy(
        sandboxID: String, policy: NetworkPolicy, persist: @escaping @Sendable () async throws -> Void
    ) async throws {
        let previous = networkUpdates[sandboxID]
        let task = Task {
            _ = await previous?.result
            try await persist()
            try await self.applyNetworkPolicy(sandboxID: sandboxID, policy: policy)
        }
        networkUpdates[sandboxID] = task
        defer { if networkUpdates[sandboxID] == task { networkUpdates[sandboxID] = nil } }
        try await task.value
    }

    /// Applies a persisted policy to the sandbox if it runs (nothing if not: the next start
    /// attaches with it). Without networking (`SANDBOX_HOST_NETWORK=off`) it is only recorded.
    public func applyNetworkPolicy(sandboxID: String, policy: NetworkPolicy) async throws {
        networkPolicies[sandboxID] = policy
        if let pending = starting[sandboxID] { _ = try? await pending.value }
        guard let networking, isRunning(sandboxID) else { return }
        do {
            try await networking.apply(sandboxID: sandboxID, policy: policy)
            await rewriteResolvConf(sandboxID, policy: policy)
        } catch {
            // Fail closed: a sandbox left under its old (maybe wider) policy is stopped; its next
            // start attaches with the persisted one.
            logger.error("network policy not applied; stopping the sandbox", metadata: ["sandbox": "\(sandboxID)", "error": "\(error)"])
            try? await stop(sandboxID)
            throw RuntimeError(
                .sandboxUnavailable, "the sandbox's network could not take the new policy; the sandbox was stopped and starts with it",
                cause: error)
        }
    }
}
