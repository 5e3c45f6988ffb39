import Foundation
import Hummingbird
import NIOPosix

/// `/api/health` (liveness) and `/api/health/deep` (database, runtime, disk, LLM).
struct HealthController {
    let services: HostServices

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
        async let database = databaseComponent()
        async let runtime = runtimeComponent()
        async let disk = diskComponent()
        let components = [
            "database": await database, "sandbox_runtime": await runtime, "disk": await disk, "llm": llmComponent(),
        ]
        let worst = components.values.map(\.status).max() ?? .ok
        return JSONResponse(
            Deep(status: worst, timestamp: Timestamp.milliseconds(), components: components),
            status: worst == .critical ? .serviceUnavailable : .ok)
    }

    private func databaseComponent() async -> Component {
        let start = RateLimiter.monotonicSeconds()
        do {
            let one = try await services.database.run { try $0.query("SELECT 1").first?.integer(0) }
            let latency = (RateLimiter.monotonicSeconds() - start) * 1000
            guard one == 1 else { return Component(status: .critical, detail: "unexpected answer to SELECT 1") }
            return Component(status: .ok, detail: "SQLite round trip", latency_ms: (latency * 100).rounded() / 100)
        } catch {
            return Component(status: .critical, detail: "database unreachable")
        }
    }

    private func runtimeComponent() async -> Component {
        let capabilities = (try? await NIOThreadPool.singleton.runIfActive { RuntimeProbe.run() }) ?? []
        let worst = capabilities.map(\.status).max() ?? .critical
        let failing = capabilities.filter { $0.status != .ok }.map { "\($0.name): \($0.detail)" }
        let detail = failing.isEmpty ? "namespaces, overlayfs and cgroups available" : failing.joined(separator: "; ")
        var checks: [String: Check] = [:]
        for capability in capabilities { checks[capability.name] = Check(status: capability.status, detail: capability.detail) }
        return Component(status: worst, detail: detail, checks: checks)
    }

    private func diskComponent() async -> Component {
        let path = services.configuration.dataDir
        let free: Int64? = try? await NIOThreadPool.singleton.runIfActive {
            var stats = statvfs()
            guard statvfs(path, &stats) == 0 else { return nil }
            return Int64(stats.f_bavail) * Int64(stats.f_frsize)
        }
        guard let free else { return Component(status: .critical, detail: "cannot read free space of the data directory") }
        let gib = Double(free) / Double(1 << 30)
        let detail = String(format: "%.1f GiB free in the data directory", gib)
        let reserve = services.configuration.diskReserveBytes
        let status: HealthStatus = free < 256 << 20 ? .critical : free < max(reserve, 2 << 30) ? .degraded : .ok
        return Component(status: status, detail: detail, free_bytes: free)
    }

    /// Configured or not (and why not); the provider is not called, so health never spends tokens.
    private func llmComponent() -> Component {
        let provider = services.agents.provider
        if let configuration = provider.configuration {
            return Component(status: .ok, detail: "model provider: \(configuration)")
        }
        return Component(status: .degraded, detail: provider.problem ?? "no model provider configured")
    }
}
