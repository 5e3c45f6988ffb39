import AsyncAlgorithms
import Synchronization

/// One heartbeat ticker per interval, shared by every live stream that uses that interval: each
/// tick asks every registered stream's `WakeSignal` for a `ping`. The ticker (an
/// `AsyncTimerSequence` in one task) runs only while some stream is registered.
///
/// A timer per stream cost as much as the stream's events: with 1,000 followers of one agent
/// run, 1,000 timer tasks and a `merge` hop on every event.
final class Heartbeat: Sendable {
    private struct State {
        var signals: [Int: WakeSignal] = [:]
        var next = 0
        var ticker: Task<Void, Never>?
    }

    private static let tickers = Mutex<[Duration: Heartbeat]>([:])

    /// The ticker for `interval`, made on first use and kept (a host uses one or two intervals).
    static func shared(every interval: Duration) -> Heartbeat {
        tickers.withLock { tickers in
            if let ticker = tickers[interval] { return ticker }
            let ticker = Heartbeat(interval: interval)
            tickers[interval] = ticker
            return ticker
        }
    }

    let interval: Duration
    private let state = Mutex(State())

    private init(interval: Duration) {
        self.interval = interval
    }

    /// Registers `signal` for pings until `remove` with the answered id.
    func add(_ signal: WakeSignal) -> Int {
        state.withLock { state in
            state.next += 1
            state.signals[state.next] = signal
            if state.ticker == nil {
                let interval = self.interval
                state.ticker = Task { [weak self] in
                    for await _ in AsyncTimerSequence(interval: interval, clock: ContinuousClock()) {
                        guard let self else { return }
                        for signal in self.registered() { signal.beat() }
                    }
                }
            }
            return state.next
        }
    }

    func remove(_ id: Int) {
        state.withLock { state in
            state.signals.removeValue(forKey: id)
            if state.signals.isEmpty {
                state.ticker?.cancel()
                state.ticker = nil
            }
        }
    }

    private func registered() -> [WakeSignal] {
        state.withLock { Array($0.signals.values) }
    }
}
