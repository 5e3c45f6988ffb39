import Foundation
import HTTPTypes
import Hummingbird
import SandboxRuntime

/// `GET /api/sandboxes/{sandbox_id}/metrics` (the owner's figures of one sandbox) and `GET
/// /metrics` (Prometheus text for the whole host: the admin key, or anyone with
/// `SANDBOX_HOST_METRICS_PUBLIC=1`).
struct MetricsController {
    struct Services: Sendable {
        let sandboxes: any SandboxLookup
        let usage: any SandboxUsageReading
        let counting: any MetricsCounting
        let authenticator: any KeyAuthenticating
        let metrics: HostMetrics
        let sampler: CPUSampler
        /// `/metrics` without a key.
        let isPublic: Bool
        /// Concurrent scrapes share one.
        var sharing = SharedScrape()
    }

    let services: Services

    /// `/api/sandboxes/…`
    var sandboxEndpoints: RouteCollection<AppRequestContext> {
        RouteCollection(context: AppRequestContext.self)
            .get("{sandbox_id}/metrics", use: sandboxMetrics)
    }

    /// `/metrics`
    var endpoints: RouteCollection<AppRequestContext> {
        RouteCollection(context: AppRequestContext.self)
            .get(use: prometheus)
    }

    struct SandboxMetrics: Encodable, Sendable {
        let state: SandboxRecord.State
        let cpu_percent: Double
        let cpu_seconds: Double
        let memory_bytes: Int64
        let memory_limit_bytes: Int64
        let pids: Int
        let pids_limit: Int
        let disk_bytes: Int64
        let disk_limit_bytes: Int64
        let network_rx_bytes: Int64
        let network_tx_bytes: Int64
        let timestamp: Int64
    }

    /// The sandbox's figures now. `cpu_percent` covers the time since the previous call for this
    /// sandbox (`CPUSampler`); the first call reads twice, 100 ms apart. A stopped sandbox:
    /// CPU, memory, pids and network 0, its limits and its disk as they are.
    @Sendable func sandboxMetrics(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<SandboxMetrics> {
        let record = try await services.sandboxes.owned(context)
        var usage = try await read(record)
        var percent = 0.0
        if usage.running {
            if let now = services.sampler.percent(record.id, usage) {
                percent = now
            } else {
                try await Task.sleep(for: CPUSampler.firstInterval)
                usage = try await read(record)
                percent = usage.running ? services.sampler.percent(record.id, usage) ?? 0 : 0
            }
        }
        if !usage.running { services.sampler.forget(record.id) }
        return JSONResponse(SandboxMetrics(
            state: usage.running ? .running : .stopped, cpu_percent: percent, cpu_seconds: Double(usage.cpuNanoseconds) / 1e9,
            memory_bytes: usage.memoryBytes, memory_limit_bytes: usage.memoryLimitBytes, pids: usage.pids, pids_limit: usage.pidsLimit,
            disk_bytes: usage.diskBytes, disk_limit_bytes: usage.diskLimitBytes, network_rx_bytes: usage.networkReceivedBytes,
            network_tx_bytes: usage.networkSentBytes, timestamp: usage.timestamp))
    }

    private func read(_ record: SandboxRecord) async throws -> SandboxUsage {
        guard let usage = try await services.usage.usage([record]).first else { throw HostError.internalError("no usage read") }
        return usage
    }

    /// Prometheus text exposition format 0.0.4. Without `SANDBOX_HOST_METRICS_PUBLIC`: no key or
    /// an unknown one is 401, another user's key 403 (the route is no secret; its figures are).
    @Sendable func prometheus(_ request: Request, context: AppRequestContext) async throws -> Response {
        if !services.isPublic {
            guard let presented = AuthMiddleware.bearer(request.headers) else {
                throw HostError(.unauthorized, "missing API key: send Authorization: Bearer <admin-key>", bearerChallenge: true)
            }
            guard let identity = try await services.authenticator.authenticate(presented) else {
                throw HostError(.unauthorized, "invalid or revoked API key", bearerChallenge: true)
            }
            guard identity.userName == "admin" else { throw HostError(.forbidden, "metrics need the admin key") }
        }
        let scrape = MetricsScrape(metrics: services.metrics, store: services.counting, runtime: services.usage)
        let body = try await services.sharing.value { try await scrape.render() }
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
