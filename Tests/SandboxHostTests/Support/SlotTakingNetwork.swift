import SandboxRuntime

/// A `SandboxNetworking` whose attach needs a `DedicatedThread` of its own, as the real one does
/// when its pool of ready namespaces is empty or the policy is not the pool's.
final class SlotTakingNetwork: SandboxNetworking {
    let resolverAddress = "192.0.2.53"
    let attaches = Locked(0)

    func attach(sandboxID: String, policy: NetworkPolicy) async throws -> NetworkAttachment? {
        try await DedicatedThread.run("fake network slot") { self.attaches.mutate { $0 += 1 } }
        return nil
    }

    func apply(sandboxID: String, policy: NetworkPolicy) async throws {}

    func detach(sandboxID: String) async {}
}
