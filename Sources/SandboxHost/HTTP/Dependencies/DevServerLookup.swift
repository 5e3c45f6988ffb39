/// The dev servers started through the API, by sandbox and session.
protocol DevServerLookup: Sendable {
    func get(sandboxID: String, session: String) async -> DevServerRegistry.Entry?
}

extension DevServerRegistry: DevServerLookup {}
