import Foundation
import SandboxRuntime
import Synchronization

/// The deep health check's network probe, single-flight and cached: calls while one probe runs
/// wait for its result (a continuation each, no thread), and a result younger than `ttl` is
/// answered as is. So any number of admin calls costs at most one probe (a throwaway nft table
/// made and deleted, on a thread of its own) per `ttl`.
public final class NetworkProbeCache: Sendable {
    let ttl: Duration
    private let probe: @Sendable () -> [Capability]

    private struct State {
        var result: (capabilities: [Capability], at: ContinuousClock.Instant)?
        var waiting: [CheckedContinuation<[Capability], Never>]?
        var runs = 0
    }

    private let state = Mutex(State())

    public init(ttl: Duration = .seconds(10), probe: @escaping @Sendable () -> [Capability]) {
        self.ttl = ttl
        self.probe = probe
    }

    /// The host's network checks `NetworkProbe.run` for `range` and `instanceKey`, cached.
    public convenience init(range: AddressBlock, instanceKey: String) {
        self.init { NetworkProbe.run(range: range, instanceKey: instanceKey) }
    }

    public func capabilities() async -> [Capability] {
        let started = await withCheckedContinuation { (continuation: CheckedContinuation<[Capability], Never>) in
            enum Next { case answer([Capability]), wait, run }
            let next = state.withLock { state -> Next in
                if let result = state.result, ContinuousClock.now - result.at < ttl { return .answer(result.capabilities) }
                if state.waiting != nil {
                    state.waiting?.append(continuation)
                    return .wait
                }
                state.waiting = [continuation]
                state.runs += 1
                return .run
            }
            switch next {
            case .answer(let capabilities): continuation.resume(returning: capabilities)
            case .wait: break
            case .run: Task { await self.runProbe() }
            }
        }
        return started
    }

    /// Probes run so far (tests).
    var runs: Int { state.withLock { $0.runs } }

    private func runProbe() async {
        let probe = self.probe
        let capabilities = (try? await DedicatedThread.run("network probe") { probe() })
            ?? [Capability(name: "network_probe", status: .degraded, detail: "the network probe could not run", fix: "")]
        let waiting = state.withLock { state in
            defer { state.waiting = nil }
            state.result = (capabilities, ContinuousClock.now)
            return state.waiting ?? []
        }
        for continuation in waiting { continuation.resume(returning: capabilities) }
    }
}
