import Foundation
import Hummingbird
import NIOPosix
import SandboxRuntime

/// `/api/health` (liveness) and `/api/health/deep` (database, runtime, disk, LLM).
///
/// Both answer without a key. The deep check's details (the user the host runs as, its kernel,
/// paths, free bytes, the provider's address) go only to the admin key; anyone else gets each
/// component's status with a generic detail.
struct HealthController {
    /// What the checks use.
    struct Services: Sendable {
        /// Random per process start, so clients can tell a restart.
        let instanceID: String
        /// The admin's key gets the deep check's details.
        let authenticator: any KeyAuthenticating
        let database: any DatabaseRunning
        let runtimeProbe: any RuntimeProbing
        /// Whose free space is checked, and the reserve below which writes are refused.
        let dataDir: String
        let diskReserveBytes: Int64
        let provider: AgentService.Provider
        /// Whether sandboxes have a network (decided at start), and the kernel's network checks.
        var network: Capability = Capability(name: "network", status: .ok, detail: "not configured", fix: "")
        /// Single-flight and cached (`NetworkProbeCache`): it runs the probe on a thread of its own.
        var networkChecks: @Sendable () async -> [Capability] = { [] }
    }

    let services: Services

    var endpoints: RouteCollection<AppRequestContext> {
        RouteCollection(context: AppRequestContext.self)
            .get(use: health)
            .get("deep", use: deep)
    }

    struct Health: Encodable, Sendable {
        let status: String
        let timestamp: Int64
        let instance_id: String
    }

    @Sendable func health(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<Health> {
        JSONResponse(Health(status: "ok", timestamp: Timestamp.milliseconds(), instance_id: services.instanceID))
    }

    struct Component: Encodable, Sendable {
        let status: HealthStatus
        let detail: String
        var latency_ms: Double?
        var free_bytes: Int64?
        var checks: [String: Check]?
        /// What `detail` says to callers without the admin key (nil: a word for the status).
        var genericDetail: String?

        private enum CodingKeys: String, CodingKey { case status, detail, latency_ms, free_bytes, checks }
    }

    struct Check: Encodable, Sendable {
        let status: HealthStatus
        let detail: String
    }

    struct Deep: Encodable, Sendable {
        let status: HealthStatus
        let timestamp: Int64
        let components: [String: Component]
    }

    @Sendable func deep(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<Deep> {
        let detailed = await isAdmin(request)
        async let database = databaseComponent()
        async let runtime = runtimeComponent(fresh: detailed)
        async let disk = diskComponent()
        var components = [
            "database": await database, "sandbox_runtime": await runtime, "disk": await disk, "llm": llmComponent(),
            "network": await networkComponent(probing: detailed),
        ]
        if !detailed { components = components.mapValues(Self.generic) }
        let worst = components.values.map(\.status).max() ?? .ok
        return JSONResponse(
            Deep(status: worst, timestamp: Timestamp.milliseconds(), components: components),
            status: worst == .critical ? .serviceUnavailable : .ok)
    }

    /// Whether the request carries the admin user's key (a missing or wrong key is no error here).
    private func isAdmin(_ request: Request) async -> Bool {
        guard let presented = AuthMiddleware.bearer(request.headers),
              let identity = try? await services.authenticator.authenticate(presented) else { return false }
        return identity.userName == "admin"
    }

    /// `component` as anyone may see it: its status, a detail naming nothing of the host, no sizes.
    static func generic(_ component: Component) -> Component {
        let detail = component.genericDetail ?? {
            switch component.status {
            case .ok: "available"
            case .degraded: "degraded"
            case .critical: "unavailable"
            }
        }()
        return Component(status: component.status, detail: detail, latency_ms: component.latency_ms)
    }

    private func databaseComponent() async -> Component {
        let start = MonotonicClock.seconds()
        do {
            let one = try await services.database.run { try $0.query("SELECT 1 AS one").first?.integer("one") }
            let latency = (MonotonicClock.seconds() - start) * 1000
            guard one == 1 else { return Component(status: .critical, detail: "unexpected answer to SELECT 1") }
            return Component(status: .ok, detail: "SQLite round trip", latency_ms: (latency * 100).rounded() / 100, genericDetail: "SQLite round trip")
        } catch {
            return Component(status: .critical, detail: "database unreachable")
        }
    }

    private func runtimeComponent(fresh: Bool) async -> Component {
        let capabilities = await services.runtimeProbe.capabilities(fresh: fresh)
        let worst = capabilities.map(\.status).max() ?? .critical
        let failing = capabilities.filter { $0.status != .ok }.map { "\($0.name): \($0.detail)" }
        let detail = failing.isEmpty ? "namespaces, overlayfs and cgroups available" : failing.joined(separator: "; ")
        var checks: [String: Check] = [:]
        for capability in capabilities { checks[capability.name] = Check(status: capability.status, detail: capability.detail) }
        let generic = worst == .ok ? "sandboxes can be started" : worst == .degraded ? "sandboxes start with reduced isolation or limits" : "sandboxes cannot be started"
        return Component(status: worst, detail: detail, checks: checks, genericDetail: generic)
    }

    /// On, off, or unusable (degraded: sandboxes have loopback only); for the admin, with
    /// forwarding, nftables and NAT checked when networking is on (at most once per 10 s, however
    /// many call at once, on a thread of its own: nft and /proc; never for anonymous callers).
    private func networkComponent(probing: Bool) async -> Component {
        let network = services.network
        let probe = services.networkChecks
        let capabilities = probing ? await probe() : []
        var checks: [String: Check] = [:]
        for capability in capabilities { checks[capability.name] = Check(status: capability.status, detail: capability.detail) }
        let worst = max(network.status, capabilities.map(\.status).max() ?? .ok)
        let generic = worst == .ok ? "sandbox networking as configured" : "sandboxes have loopback only"
        return Component(status: worst, detail: network.detail, checks: checks.isEmpty ? nil : checks, genericDetail: generic)
    }

    private func diskComponent() async -> Component {
        let path = services.dataDir
        // statvfs reads the file system's counters, kept in memory (it does not wait for the
        // disk, nor for a frozen file system): asked here, not behind the shared thread pool,
        // which file routes held by a slow disk may fill.
        var stats = statvfs()
        let free: Int64? = statvfs(path, &stats) == 0 ? Int64(stats.f_bavail) * Int64(stats.f_frsize) : nil
        guard let free else { return Component(status: .critical, detail: "cannot read free space of the data directory") }
        let gib = Double(free) / Double(1 << 30)
        let detail = String(format: "%.1f GiB free in the data directory", gib)
        let reserve = services.diskReserveBytes
        let status: HealthStatus = free < 256 << 20 ? .critical : free < max(reserve, 2 << 30) ? .degraded : .ok
        let generic = status == .ok ? "enough free space" : status == .degraded ? "free space is low" : "almost no free space"
        return Component(status: status, detail: detail, free_bytes: free, genericDetail: generic)
    }

    /// Configured or not (and why not); the provider is not called, so health never spends tokens.
    private func llmComponent() -> Component {
        let provider = services.provider
        if let configuration = provider.configuration {
            return Component(
                status: .ok, detail: "model provider: \(configuration)", genericDetail: "model provider: \(configuration.kind.rawValue)")
        }
        return Component(
            status: .degraded, detail: provider.problem ?? "no model provider configured", genericDetail: "no usable model provider configured")
    }
}
