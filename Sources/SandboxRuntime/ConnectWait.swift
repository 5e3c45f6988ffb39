import CSandbox
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Waits, without holding a thread, for a non-blocking `connect(2)` in progress to finish: the
/// socket is watched for `EPOLLOUT` by an `EventPoller` (one shot), raced against a deadline.
///
/// Why: an app that listens but never accepts (its backlog full) leaves a connect waiting for
/// the kernel's SYN retries, about two minutes per address family. A blocking connect on the
/// shared thread pool held one of the two threads every SQLite query runs on for that long.
final class ConnectWait: Sendable {
    enum Outcome: Sendable {
        case ready
        case timedOut
        case cancelled
    }

    private struct State {
        var continuation: CheckedContinuation<Outcome, Never>?
        var outcome: Outcome?
    }

    private let state = Mutex(State())

    private init() {}

    /// The connect's result for `fd` (0 when connected, else its errno: `ECONNREFUSED`…);
    /// `RuntimeError.gatewayTimeout` once `deadline` passes; `CancellationError` if the task is cancelled.
    /// The caller keeps the socket and closes it on every path.
    static func finish(_ fd: Int32, deadline: ContinuousClock.Instant, port: Int, poller: EventPoller = .shared) async throws -> Int32 {
        let wait = ConnectWait()
        // One shot: a level-triggered EPOLLOUT would fire on every turn of the poller until the
        // waiting task runs and unregisters. EPOLLERR and EPOLLHUP (a refused connect) always report.
        try poller.register(fd, events: EPOLLOUT.rawValue | EPOLLONESHOT.rawValue) { _ in wait.resolve(.ready) }
        defer { poller.unregister(fd) }
        let timer = Task {
            do {
                try await Task.sleep(until: deadline, clock: .continuous)
                wait.resolve(.timedOut)
            } catch {}
        }
        defer { timer.cancel() }
        let outcome = await withTaskCancellationHandler {
            await wait.outcome()
        } onCancel: {
            wait.resolve(.cancelled)
        }
        switch outcome {
        case .ready:
            var code: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length) == 0 else { return errno }
            return code
        case .timedOut:
            throw RuntimeError(.gatewayTimeout, "the app on port \(port) did not accept the connection in time (is it stuck?)")
        case .cancelled:
            throw CancellationError()
        }
    }

    private func resolve(_ outcome: Outcome) {
        let continuation = state.withLock { state -> CheckedContinuation<Outcome, Never>? in
            guard state.outcome == nil else { return nil }
            state.outcome = outcome
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(returning: outcome)
    }

    private func outcome() async -> Outcome {
        await withCheckedContinuation { continuation in
            let settled = state.withLock { state -> Outcome? in
                if let outcome = state.outcome { return outcome }
                state.continuation = continuation
                return nil
            }
            if let settled { continuation.resume(returning: settled) }
        }
    }
}
