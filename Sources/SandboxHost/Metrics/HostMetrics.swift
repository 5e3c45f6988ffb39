import HTTPTypes
import Prometheus
import SandboxRuntime

/// The host's Prometheus metrics that live as long as the process: requests by route, method
/// and status class (count and latency), sandbox starts and blocking commands (latency).
/// Gauges read at scrape time (sandboxes, agent runs, per-sandbox figures) are not kept here:
/// `MetricsScrape` makes them afresh for each scrape.
///
/// Label values are bounded: a route is the router's pattern (`/api/sandboxes/{sandbox_id}/execute`),
/// never the raw path; a method outside the standard ones is `other`; a status is its class.
/// Thread-safe (the registry locks); every call returns at once.
final class HostMetrics: RuntimeTimings, Sendable {
    let registry = PrometheusCollectorRegistry()

    static let requestBuckets: [Double] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
    static let startBuckets: [Double] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
    static let commandBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]

    static var requests: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "sandbox_host", subsystem: "http", metricName: "requests", unitName: "total",
            helpText: "HTTP requests answered, by route pattern, method and status class.")
    }
    static var requestDuration: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "sandbox_host", subsystem: "http", metricName: "request_duration", unitName: "seconds",
            helpText: "Time from a request's arrival to its response head, by route pattern, method and status class.")
    }
    static var sandboxStart: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "sandbox_host", subsystem: "sandbox", metricName: "start_duration", unitName: "seconds",
            helpText: "Sandbox starts (cold: volume, cgroups, network, PID 1 ready).")
    }
    static var command: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "sandbox_host", subsystem: "exec", metricName: "duration", unitName: "seconds",
            helpText: "Blocking commands (execute), as their duration_ms, by outcome.")
    }

    init() {
        // Present from the first scrape, before anything started.
        _ = registry.makeValueHistogram(descriptor: Self.sandboxStart, buckets: Self.startBuckets)
    }

    /// One answered request.
    func recordRequest(route: String, method: HTTPRequest.Method, status: Int, seconds: Double) {
        let labels = [("route", route), ("method", Self.methodLabel(method)), ("status", Self.statusClass(status))]
        registry.makeCounter(descriptor: Self.requests, labels: labels).increment()
        registry.makeValueHistogram(descriptor: Self.requestDuration, labels: labels, buckets: Self.requestBuckets).record(seconds)
    }

    func sandboxStarted(seconds: Double) {
        registry.makeValueHistogram(descriptor: Self.sandboxStart, buckets: Self.startBuckets).record(seconds)
    }

    func commandFinished(seconds: Double, timedOut: Bool) {
        registry.makeValueHistogram(
            descriptor: Self.command, labels: [("outcome", timedOut ? "timed_out" : "exited")], buckets: Self.commandBuckets
        ).record(seconds)
    }

    static func methodLabel(_ method: HTTPRequest.Method) -> String {
        switch method {
        case .get, .head, .post, .put, .patch, .delete, .options: method.rawValue
        default: "other"
        }
    }

    static func statusClass(_ status: Int) -> String {
        (1...5).contains(status / 100) ? "\(status / 100)xx" : "other"
    }
}
