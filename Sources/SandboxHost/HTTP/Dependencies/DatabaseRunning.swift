/// Runs work on the database's own thread (the deep health check's round trip).
protocol DatabaseRunning: Sendable {
    func run<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T
}

extension Database: DatabaseRunning {}
