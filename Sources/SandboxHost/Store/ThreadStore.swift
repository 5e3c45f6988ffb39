import AgentLoop
import Foundation
import SandboxRuntime

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
                ChatThread(id: try $0.text("id"), projectID: try $0.text("project_id"), createdAt: try $0.text("created_at"))
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
                ChatThread(id: try $0.text("id"), projectID: try $0.text("project_id"), createdAt: try $0.text("created_at"))
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
            return try Self.messages(threadID: threadID, in: connection)
        }
    }

    static func messages(threadID: String, in connection: SQLiteConnection) throws -> [ChatMessage] {
        try connection.query("""
            SELECT id, thread_id, role, content, created_at, tool_calls, tool_call_id, tool_name, run_id
            FROM messages WHERE thread_id = ? ORDER BY seq
            """, [.text(threadID)]
        ).map {
            var message = ChatMessage(
                id: try $0.text("id"), threadID: try $0.text("thread_id"),
                role: ChatMessage.Role(rawValue: try $0.text("role")) ?? .user,
                content: try $0.text("content"), createdAt: try $0.text("created_at"))
            message.toolCalls = try $0.optionalText("tool_calls").flatMap { try? JSONDecoder().decode([ToolCall].self, from: Data($0.utf8)) }
            message.toolCallID = try $0.optionalText("tool_call_id")
            message.toolName = try $0.optionalText("tool_name")
            message.runID = try $0.optionalText("run_id")
            return message
        }
    }

    /// The conversation as a model must see it: every tool call answered (a call whose result
    /// was never stored, because the host died mid-tool, gets one saying so).
    public func conversation(threadID: String) async throws -> [ConversationMessage] {
        let stored = try await database.run { try Self.messages(threadID: threadID, in: $0) }
        var conversation: [ConversationMessage] = []
        var unanswered: [ToolCall] = []
        func closeOpenCalls() {
            for call in unanswered {
                conversation.append(ConversationMessage(
                    role: .tool, text: "[no result: the run ended before this call finished]", toolCallID: call.id, toolName: call.name))
            }
            unanswered = []
        }
        for message in stored.map(\.conversationMessage) {
            if message.role == .tool {
                guard let index = unanswered.firstIndex(where: { $0.id == message.toolCallID }) else { continue }
                unanswered.remove(at: index)
            } else {
                closeOpenCalls()
            }
            conversation.append(message)
            if message.role == .assistant { unanswered = message.toolCalls }
        }
        closeOpenCalls()
        return conversation
    }

    /// Appends an agent's message (assistant or tool) to a thread the run already owns. Written
    /// like the run's events (see `Database.runRelaxed`): it survives a killed host; a power cut
    /// may take the last ones, which the run's events would then also lack.
    func appendAgentMessage(_ message: ConversationMessage, id: String, threadID: String, runID: String) async throws {
        let calls = message.toolCalls.isEmpty ? nil : (try? JSONEncoder().encode(message.toolCalls)).map { String(decoding: $0, as: UTF8.self) }
        let row: [SQLiteValue] = [
            .text(id), .text(threadID), .text(message.role.rawValue), .text(message.text), .text(Timestamp.iso8601()),
            calls.map(SQLiteValue.text) ?? .null, message.toolCallID.map(SQLiteValue.text) ?? .null,
            message.toolName.map(SQLiteValue.text) ?? .null, .text(runID),
        ]
        _ = try await database.runRelaxed { connection in
            try connection.run("""
                INSERT INTO messages (id, thread_id, role, content, created_at, tool_calls, tool_call_id, tool_name, run_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, row)
        }
    }

    private static func owns(threadID: String, userID: String, in connection: SQLiteConnection) throws -> Bool {
        try !connection.query("""
            SELECT 1 FROM threads t JOIN projects p ON p.id = t.project_id
            WHERE t.id = ? AND p.user_id = ?
            """, [.text(threadID), .text(userID)]).isEmpty
    }
}
