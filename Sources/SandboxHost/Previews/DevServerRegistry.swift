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
}
