import Foundation
import SandboxRuntime

/// The terminals of one sandbox: opened up to a cap, listed, found for a WebSocket, deleted.
///
/// At most `maxTerminals` run at once (opens in flight count): one more is a 409 `CONFLICT`,
/// not a 429: nothing but closing a terminal makes room, so a client retrying after a delay (as
/// 429 invites) would only fail again. A terminal whose process exited stays listed with
/// `running: false` for `linger` (a client that reconnects then gets its last output and its
/// exit), or until it is deleted.
actor TerminalRegistry {
    let sandboxID: String
    let maxTerminals: Int
    let linger: Duration
    private var entries: [String: TerminalEntry] = [:]
    private var opening = 0

    init(sandboxID: String, maxTerminals: Int, linger: Duration) {
        self.sandboxID = sandboxID
        self.maxTerminals = maxTerminals
        self.linger = linger
    }

    func open(_ record: SandboxRecord, _ request: TerminalRequest, runtime: any TerminalStarting) async throws -> TerminalEntry {
        let running = entries.values.filter(\.running).count
        guard running + opening < maxTerminals else {
            throw HostError(.conflict, "this sandbox has \(maxTerminals) terminals running, the most it may have: close one first (DELETE /api/sandboxes/\(sandboxID)/pty/{pty_id})")
        }
        opening += 1
        defer { opening -= 1 }
        let hub = TerminalHub()
        let terminal = try await runtime.openTerminal(record, request, output: { hub.receive($0) })
        hub.start(terminal)
        let entry = TerminalEntry(
            id: Identifier.randomHex(bytes: 12), command: request.command, pid: terminal.pid,
            createdAt: Timestamp.iso8601(), hub: hub, terminal: terminal)
        entries[entry.id] = entry
        let linger = self.linger
        Task {
            let code = await terminal.waitExit()
            hub.finish(exitCode: code)
            try? await Task.sleep(for: linger)
            self.expire(entry.id, terminal: terminal)
        }
        return entry
    }

    /// Oldest first.
    func list() -> [TerminalEntry] {
        entries.values.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    func entry(_ id: String) -> TerminalEntry? { entries[id] }

    /// Kills the terminal's process and everything it started, and forgets it; false when there
    /// is no such terminal.
    func remove(_ id: String) async -> Bool {
        guard let entry = entries.removeValue(forKey: id) else { return false }
        // A terminal that ended (its sandbox stopped, perhaps started again since) is only
        // forgotten: its command id may name another command of the new sandbox's.
        if entry.terminal.isRunning { await entry.terminal.kill() }
        return true
    }

    private func expire(_ id: String, terminal: Terminal) {
        // Only the entry of this very terminal (an id is never reused, but be exact).
        if entries[id]?.terminal === terminal { entries[id] = nil }
    }
}
