import SandboxRuntime

/// Sandboxes in the database; lookups through the project to its owner.
public struct SandboxStore: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    static let columns = "s.id, s.project_id, s.slot, s.image, s.memory_mb, s.cpus, s.pids, s.disk_mb, s.created_at, s.last_active_at, p.network"

    /// The project's sandbox, creating its row (with a free slot) when it has none. A project
    /// deleted meanwhile is a 404 (not a foreign-key failure).
    func findOrCreate(projectID: String, image: String, limits: SandboxLimits) async throws -> SandboxRecord {
        try await database.transaction { connection in
            guard let project = try connection.query("SELECT network FROM projects WHERE id = ?", [.text(projectID)]).first else {
                throw HostError.notFound("project")
            }
            if let existing = try connection.query(
                "SELECT \(Self.columns) FROM sandboxes s JOIN projects p ON p.id = s.project_id WHERE s.project_id = ?",
                [.text(projectID)]).first {
                return try Self.record(existing)
            }
            let slot = try connection.query("""
                SELECT coalesce(min(slot) + 1, 1) AS free FROM (SELECT 0 AS slot UNION ALL SELECT slot FROM sandboxes) AS taken
                WHERE slot + 1 NOT IN (SELECT slot FROM sandboxes)
                """).first?.integer("free") ?? 1
            let now = Timestamp.iso8601()
            let record = SandboxRecord(
                id: Identifier.uuid(), projectID: projectID, slot: Int(slot), image: image,
                limits: limits, createdAt: now, lastActiveAt: now,
                network: try ProjectStore.networkPolicy(project.optionalText("network")))
            try connection.run("""
                INSERT INTO sandboxes (id, project_id, slot, image, memory_mb, cpus, pids, disk_mb, created_at, last_active_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(record.id), .text(projectID), .integer(slot), .text(image),
                      .integer(Int64(limits.memoryMB)), .real(limits.cpus), .integer(Int64(limits.pids)),
                      .integer(Int64(limits.diskMB)), .text(now), .text(now)])
            try connection.run("UPDATE projects SET sandbox_id = ? WHERE id = ?", [.text(record.id), .text(projectID)])
            return record
        }
    }

    /// The sandbox, or nil when missing or not the caller's.
    func get(id: String, userID: String) async throws -> SandboxRecord? {
        try await database.run { connection in
            try connection.query("""
                SELECT \(Self.columns) FROM sandboxes s JOIN projects p ON p.id = s.project_id
                WHERE s.id = ? AND p.user_id = ?
                """, [.text(id), .text(userID)]).first.map(Self.record)
        }
    }

    /// Whether the sandbox's row is still there (a deleted sandbox never starts again).
    func exists(id: String) async throws -> Bool {
        try await database.run { connection in
            try connection.query("SELECT 1 FROM sandboxes WHERE id = ?", [.text(id)]).first != nil
        }
    }

    func forProject(_ projectID: String) async throws -> SandboxRecord? {
        try await database.run { connection in
            try connection.query(
                "SELECT \(Self.columns) FROM sandboxes s JOIN projects p ON p.id = s.project_id WHERE s.project_id = ?", [.text(projectID)])
                .first.map(Self.record)
        }
    }

    /// Records when the API last used the sandbox (written when it stops).
    /// The sandbox, its owner and its preview token if it has one yet: all a preview request
    /// (which names a sandbox, not a user) needs, in one read.
    func withOwner(id: String) async throws -> (record: SandboxRecord, userID: String, previewToken: String?)? {
        try await database.run { connection in
            try connection.query("""
                SELECT \(Self.columns), p.user_id, s.preview_token FROM sandboxes s JOIN projects p ON p.id = s.project_id WHERE s.id = ?
                """, [.text(id)]).first.map { (try Self.record($0), try $0.text("user_id"), try $0.optionalText("preview_token")) }
        }
    }

    /// The sandbox's preview token, made (128 random bits) on first use. A write transaction:
    /// request paths read the token with `withOwner` and come here only when it is missing.
    func previewToken(id: String) async throws -> String {
        let fresh = Identifier.randomHex(bytes: 16)
        return try await database.transaction { connection in
            try connection.run("UPDATE sandboxes SET preview_token = ? WHERE id = ? AND preview_token IS NULL", [.text(fresh), .text(id)])
            return try connection.query("SELECT preview_token FROM sandboxes WHERE id = ?", [.text(id)]).first?.optionalText("preview_token") ?? fresh
        }
    }

    /// Sets the network policy of the sandbox's project if `userID` owns it (the policy follows
    /// the project: a later sandbox of it gets it too). False when not the caller's or gone.
    func setNetwork(sandboxID: String, userID: String, _ policy: NetworkPolicy) async throws -> Bool {
        let text = try ProjectStore.networkText(policy)
        return try await database.run { connection in
            try connection.run("""
                UPDATE projects SET network = ?
                WHERE user_id = ? AND id = (SELECT project_id FROM sandboxes WHERE id = ?)
                """, [.text(text), .text(userID), .text(sandboxID)]) > 0
        }
    }

    func setLastActive(id: String, _ lastActiveAt: String) async throws {
        _ = try await database.run { connection in
            try connection.run("UPDATE sandboxes SET last_active_at = ? WHERE id = ?", [.text(lastActiveAt), .text(id)])
        }
    }

    func delete(id: String) async throws {
        _ = try await database.transaction { connection in
            try connection.run("UPDATE projects SET sandbox_id = NULL WHERE sandbox_id = ?", [.text(id)])
            return try connection.run("DELETE FROM sandboxes WHERE id = ?", [.text(id)])
        }
    }

    static func record(_ row: SQLiteRow) throws -> SandboxRecord {
        var limits = SandboxLimits()
        limits.memoryMB = Int(try row.integer("memory_mb"))
        limits.cpus = try row.real("cpus")
        limits.pids = Int(try row.integer("pids"))
        limits.diskMB = Int(try row.integer("disk_mb"))
        return SandboxRecord(
            id: try row.text("id"), projectID: try row.text("project_id"), slot: Int(try row.integer("slot")),
            image: try row.text("image"), limits: limits, createdAt: try row.text("created_at"),
            lastActiveAt: try row.text("last_active_at"), network: try ProjectStore.networkPolicy(row.optionalText("network")))
    }
}
