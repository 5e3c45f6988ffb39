import SandboxRuntime

/// A `SandboxNetworking` that only records: what `apply` was given, and what the store held
/// when it was called (`storedPolicy`, to check a change is persisted before it is applied).
/// A policy with no `deny_out` takes 50 ms to apply, others 1 ms, so a slow change could be
/// overtaken by a later one if the runtime did not keep them in order.
final class RecordingNetwork: SandboxNetworking {
    let resolverAddress = "192.0.2.53"
    let applied = Locked<[NetworkPolicy]>([])
    let storedAtApply = Locked<[NetworkPolicy?]>([])
    let storedPolicy: @Sendable () async throws -> NetworkPolicy?
    /// `apply` throws (a kernel refusing the rules) while this is set.
    let failsApply = Locked(false)

    struct ApplyRefused: Error {}

    init(storedPolicy: @escaping @Sendable () async throws -> NetworkPolicy?) { self.storedPolicy = storedPolicy }

    func attach(sandboxID: String, policy: NetworkPolicy) async throws -> NetworkAttachment? { nil }

    func apply(sandboxID: String, policy: NetworkPolicy) async throws {
        let stored = try await storedPolicy()
        storedAtApply.mutate { $0.append(stored) }
        if failsApply.value { throw ApplyRefused() }
        try await Task.sleep(for: .milliseconds(policy.denyOut.isEmpty ? 50 : 1))
        applied.mutate { $0.append(policy) }
    }

    func detach(sandboxID: String) async {}
}
