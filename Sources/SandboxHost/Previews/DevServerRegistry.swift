/// What was asked of each dev server this process started: the port it should listen on (if
/// given) and the ports that were already listening before it started, so the stream can tell
/// the dev server's port from others. Lost on restart; the stream then takes any listening port.
actor DevServerRegistry {
    struct Entry: Sendable {
        let commandID: String
        let command: String
        let port: Int?
        let baseline: Set<Int>
    }

    private var entries: [String: Entry] = [:]

    func set(_ entry: Entry, sandboxID: String, session: String) { entries[sandboxID + "/" + session] = entry }
    func get(sandboxID: String, session: String) -> Entry? { entries[sandboxID + "/" + session] }

    /// The dev server's port among those `listening` in its sandbox: the one it was asked to use,
    /// once it listens there; else the lowest that was not listening before it started (for a
    /// dev server this process did not start, `entry` nil: the lowest listening at all).
    nonisolated static func detectedPort(_ entry: Entry?, listening: Set<Int>) -> Int? {
        if let asked = entry?.port { return listening.contains(asked) ? asked : nil }
        return listening.subtracting(entry?.baseline ?? []).min()
    }
}
