import SandboxRuntime

/// What `/metrics` reads from the database at scrape time, on the database's thread.
struct MetricsStore: Sendable {
    let database: Database

    /// Sandboxes (rows, whatever their state) and agent runs by status.
    struct Counts: Sendable, Equatable {
        var sandboxes: Int
        var agentRuns: [String: Int]
    }

    func counts() async throws -> Counts {
        try await database.run { connection in
            let sandboxes = try connection.query("SELECT count(*) AS n FROM sandboxes").first?.integer("n") ?? 0
            var runs: [String: Int] = [:]
            for row in try connection.query("SELECT status, count(*) AS n FROM agent_runs GROUP BY status") {
                runs[try row.text("status")] = Int(try row.integer("n"))
            }
            return Counts(sandboxes: Int(sandboxes), agentRuns: runs)
        }
    }

    /// The records of the sandboxes `ids` that still exist (any owner: the admin's scrape), in
    /// batches of 256 parameters.
    func sandboxes(ids: [String]) async throws -> [SandboxRecord] {
        var records: [SandboxRecord] = []
        var start = 0
        while start < ids.count {
            let batch = Array(ids[start..<min(start + 256, ids.count)])
            start += batch.count
            records += try await database.run { connection in
                let marks = Array(repeating: "?", count: batch.count).joined(separator: ", ")
                return try connection.query(
                    "SELECT \(SandboxStore.columns) FROM sandboxes s JOIN projects p ON p.id = s.project_id WHERE s.id IN (\(marks))",
                    batch.map { .text($0) }
                ).map(SandboxStore.record)
            }
        }
        return records
    }
}
