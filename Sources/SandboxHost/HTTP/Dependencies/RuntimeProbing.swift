import SandboxRuntime

/// Whether this machine can run sandboxes: namespaces, overlayfs, cgroups.
protocol RuntimeProbing: Sendable {
    /// The last probe's answer if recent, else a new one; `fresh` probes again.
    func capabilities(fresh: Bool) async -> [Capability]
}

extension RuntimeProbeCache: RuntimeProbing {}
