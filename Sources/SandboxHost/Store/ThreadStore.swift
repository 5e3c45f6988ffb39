/// Threads and their messages; every lookup joins through the project to its owner.
public struct ThreadStore: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    /// Creates a thread in the caller's project; nil when the project is not the caller's.
    public func create(projectID: String, userID: String) async throws -> ChatThread? {
        let thread = ChatThread(id: Identifier.uuid(), projectID: projectID, createdAt: Timestamp.iso8601())
        return try await database.transaction { connection in
            let owned = try connection.query(
                "SELECT 1 FROM projects WHERE id = ? AND user_id = ?", [.text(projectID), .text(userID)])
            guard !owned.isEmpty else { return nil }
            try connection.run(
                "INSERT INTO threads (id, project_id, created_at) VALUES (?, ?, ?)",
                [.text(thread.id), .text(thread.projectID), .text(thread.createdAt)])
            return thread
        }
    }

    /// The caller's threads, newest first, optionally of one project.
    public func list(userID: String, projectID: String?) async throws -> [ChatThread] {
        try await database.run { connection in
            var sql = """
                SELECT t.id, t.project_id, t.created_at FROM threads t
                JOIN projects p ON p.id = t.project_id WHERE p.user_id = ?
                """
            var parameters: [SQLiteValue] = [.text(userID)]
            if let projectID {
                sql += " AND t.project_id = ?"
                parameters.append(.text(projectID))
            }
            sql += " ORDER BY t.created_at DESC, t.id"
            return try connection.query(sql, parameters).map {
                ChatThread(id: try $0.text(0), projectID: try $0.text(1), createdAt: try $0.text(2))
            }
        }
    }

    /// The thread, or nil when missing or not the caller's.
    public func get(id: String, userID: String) async throws -> ChatThread? {
        try await database.run { connection in
            try connection.query("""
                SELECT t.id, t.project_id, t.created_at FROM threads t
                JOIN projects p ON p.id = t.project_id WHERE t.id = ? AND p.user_id = ?
                """, [.text(id), .text(userID)]).first.map {
                ChatThread(id: try $0.text(0), projectID: try $0.text(1), createdAt: try $0.text(2))
            }
        }
    }

    /// Appends a message to the caller's thread; nil when the thread is not the caller's.
    public func appendMessage(
        threadID: String, userID: String, role: ChatMessage.Role, content: String
    ) async throws -> ChatMessage? {
        let message = ChatMessage(
            id: Identifier.uuid(), threadID: threadID, role: role, content: content, createdAt: Timestamp.iso8601())
        return try await database.transaction { connection in
            guard try Self.owns(threadID: threadID, userID: userID, in: connection) else { return nil }
            try connection.run(
                "INSERT INTO messages (id, thread_id, role, content, created_at) VALUES (?, ?, ?, ?, ?)",
                [.text(message.id), .text(threadID), .text(role.rawValue), .text(content), .text(message.createdAt)])
            return message
        }
    }

    /// The thread's messages in the order they were written; nil when the thread is not the caller's.
    public func messages(threadID: String, userID: String) async throws -> [ChatMessage]? {
        try await database.run { connection in
            guard try Self.owns(threadID: threadID, userID: userID, in: connection) else { return nil }
            return try connection.query(
                "SELECT id, thread_id, role, content, created_at FROM messages WHERE thread_id = ? ORDER BY seq",
                [.text(threadID)]
            ).map {
                ChatMessage(
                    id: try $0.text(0), threadID: try $0.text(1),
                    role: ChatMessage.Role(rawValue: try $0.text(2)) ?? .user,
                    content: try $0.text(3), createdAt: try $0.text(4))
            }
        }
    }

    private static func owns(threadID: String, userID: String, in connection: SQLiteConnection) throws -> Bool {
        try !connection.query("""
            SELECT 1 FROM threads t JOIN projects p ON p.id = t.project_id
            WHERE t.id = ? AND p.user_id = ?
            """, [.text(threadID), .text(userID)]).isEmpty
    }
}
