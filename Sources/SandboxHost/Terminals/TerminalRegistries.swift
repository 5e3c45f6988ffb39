import Synchronization

/// Every sandbox's `TerminalRegistry`, made on first use. A registry is kept for the host's
/// life once made (a few hundred bytes; dropping it could race an open on it).
final class TerminalRegistries: Sendable {
    let maxTerminals: Int
    let linger: Duration
    private let registries = Mutex<[String: TerminalRegistry]>([:])

    init(maxTerminals: Int, linger: Duration = .seconds(60)) {
        self.maxTerminals = maxTerminals
        self.linger = linger
    }

    func registry(for sandboxID: String) -> TerminalRegistry {
        registries.withLock { table in
            if let registry = table[sandboxID] { return registry }
            let registry = TerminalRegistry(sandboxID: sandboxID, maxTerminals: maxTerminals, linger: linger)
            table[sandboxID] = registry
            return registry
        }
    }

    /// The sandbox's registry if it has had a terminal.
    func existing(for sandboxID: String) -> TerminalRegistry? {
        registries.withLock { $0[sandboxID] }
    }
}
