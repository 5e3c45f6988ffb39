import Foundation
import SandboxRuntime

/// Projects in the database; every lookup is scoped to the owning user.
public struct ProjectStore: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    private static let columns = "id, user_id, name, description, image, sandbox_id, created_at, network"

    /// `network`: the project's policy, already validated; nil: the host default.
    public func create(
        userID: String, name: String, description: String?, image: String, network: NetworkPolicy? = nil
    ) async throws -> Project {
        let project = Project(
            id: Identifier.uuid(), userID: userID, name: name, description: description,
            image: image, sandboxID: nil, createdAt: Timestamp.iso8601(), network: network)
        let networkText = try network.map(Self.networkText)
        _ = try await database.run { connection in
            try connection.run(
                "INSERT INTO projects (\(Self.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [.text(project.id), .text(project.userID), .text(project.name), project.description.sqlite,
                 .text(project.image), .null, .text(project.createdAt), networkText.sqlite])
        }
        return project
    }

    /// The caller's projects, newest first.
    public func list(userID: String) async throws -> [Project] {
        try await database.run { connection in
            try connection.query(
                "SELECT \(Self.columns) FROM projects WHERE user_id = ? ORDER BY created_at DESC, id",
                [.text(userID)]).map(Self.project)
        }
    }

    /// The project, or nil when it is missing or belongs to someone else.
    public func get(id: String, userID: String) async throws -> Project? {
        try await database.run { connection in
            try connection.query(
                "SELECT \(Self.columns) FROM projects WHERE id = ? AND user_id = ?",
                [.text(id), .text(userID)]).first.map(Self.project)
        }
    }

    /// Deletes the project with its threads and messages; answers false when it was not the caller's.
    public func delete(id: String, userID: String) async throws -> Bool {
        try await database.run { connection in
            try connection.run("DELETE FROM projects WHERE id = ? AND user_id = ?", [.text(id), .text(userID)]) > 0
        }
    }

    static func project(_ row: SQLiteRow) throws -> Project {
        Project(
            id: try row.text("id"), userID: try row.text("user_id"), name: try row.text("name"),
            description: try row.optionalText("description"), image: try row.text("image"),
            sandboxID: try row.optionalText("sandbox_id"), createdAt: try row.text("created_at"),
            network: try networkPolicy(row.optionalText("network")))
    }

    /// A policy as stored: the API's JSON object, entries normalised.
    static func networkText(_ policy: NetworkPolicy) throws -> String {
        String(decoding: try JSONEncoder().encode(policy), as: UTF8.self)
    }

    /// A stored policy read back; nil (the host default) when the column is NULL.
    static func networkPolicy(_ text: String?) throws -> NetworkPolicy? {
        guard let text else { return nil }
        return try JSONDecoder().decode(NetworkPolicy.self, from: Data(text.utf8))
    }
}
