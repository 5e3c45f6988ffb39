/// Deployments in the database. Ownership is checked on the project before any call here.
public struct DeploymentStore: Sendable {
    let database: Database

    private static let columns = "id, project_id, state, branch, remote_url, build_command, output_dir, message, commit_sha, error, created_at, ready_at"

    func insert(_ deployment: Deployment) async throws {
        _ = try await database.run { connection in
            try connection.run("""
                INSERT INTO deployments (\(Self.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, Self.values(deployment))
        }
    }

    func update(_ deployment: Deployment) async throws {
        _ = try await database.run { connection in
            try connection.run(
                "UPDATE deployments SET state = ?, commit_sha = ?, error = ?, ready_at = ? WHERE id = ?",
                [.text(deployment.state.rawValue), deployment.commit.map(SQLiteValue.text) ?? .null,
                 deployment.error.map(SQLiteValue.text) ?? .null, deployment.readyAt.map(SQLiteValue.text) ?? .null,
                 .text(deployment.id)])
        }
    }

    /// The project's newest deployment, or its newest one in `state`.
    func latest(projectID: String, state: Deployment.State? = nil) async throws -> Deployment? {
        try await database.run { connection in
            let filter = state == nil ? "" : " AND state = ?"
            let values: [SQLiteValue] = [.text(projectID)] + (state.map { [.text($0.rawValue)] } ?? [])
            return try connection.query(
                "SELECT \(Self.columns) FROM deployments WHERE project_id = ?\(filter) ORDER BY created_at DESC, rowid DESC LIMIT 1", values
            ).first.map(Self.deployment)
        }
    }

    /// At start: a deployment that was running when the host stopped never finishes.
    func failInterrupted() throws -> Int {
        try database.runBlocking { connection in
            try connection.run(
                "UPDATE deployments SET state = 'failed', error = 'host restarted during the deployment' WHERE state NOT IN ('deployed', 'failed')")
        }
    }

    private static func values(_ deployment: Deployment) -> [SQLiteValue] {
        func optional(_ value: String?) -> SQLiteValue { value.map(SQLiteValue.text) ?? .null }
        return [.text(deployment.id), .text(deployment.projectID), .text(deployment.state.rawValue), .text(deployment.branch),
                optional(deployment.remoteURL), optional(deployment.buildCommand), optional(deployment.outputDirectory),
                .text(deployment.message), optional(deployment.commit), optional(deployment.error), .text(deployment.createdAt),
                optional(deployment.readyAt)]
    }

    static func deployment(_ row: SQLiteRow) throws -> Deployment {
        Deployment(
            id: try row.text("id"), projectID: try row.text("project_id"),
            state: Deployment.State(rawValue: try row.text("state")) ?? .failed,
            branch: try row.text("branch"), remoteURL: try row.optionalText("remote_url"),
            buildCommand: try row.optionalText("build_command"), outputDirectory: try row.optionalText("output_dir"),
            message: try row.text("message"), commit: try row.optionalText("commit_sha"), error: try row.optionalText("error"),
            createdAt: try row.text("created_at"), readyAt: try row.optionalText("ready_at"))
    }
}
