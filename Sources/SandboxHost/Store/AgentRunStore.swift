import SandboxRuntime

/// Agent runs and their numbered events; every lookup by a caller joins through the thread's
/// project to its owner.
public struct AgentRunStore: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    static let columns = """
        r.id, r.thread_id, r.status, r.model, r.max_steps, r.started_at, r.completed_at, r.error,
        r.prompt_tokens, r.completion_tokens
        """

    static func run(_ row: SQLiteRow) throws -> AgentRun {
        AgentRun(
            id: try row.text("id"), threadID: try row.text("thread_id"),
            status: AgentRun.Status(rawValue: try row.text("status")) ?? .failed,
            model: try row.text("model"), maxSteps: Int(try row.integer("max_steps")), startedAt: try row.text("started_at"),
            completedAt: try row.optionalText("completed_at"), error: try row.optionalText("error"),
            usage: AgentRun.Usage(
                prompt_tokens: Int(try row.integer("prompt_tokens")), completion_tokens: Int(try row.integer("completion_tokens"))))
    }

    public enum StartResult: Sendable {
        case started(AgentRun)
        /// Another run of the thread is still running.
        case busy
    }

    /// Creates a running run on a thread, with the person's message first when there is one, in
    /// one transaction; `.busy` when the thread already has a running run (the partial unique
    /// index decides, so two racing starts cannot both win).
    func start(threadID: String, model: String, maxSteps: Int, userMessage: String?) async throws -> StartResult {
        let run = AgentRun(
            id: Identifier.uuid(), threadID: threadID, status: .running, model: model, maxSteps: maxSteps,
            startedAt: Timestamp.iso8601(), completedAt: nil, error: nil, usage: .init(prompt_tokens: 0, completion_tokens: 0))
        return try await database.transaction { connection in
            let busy = try connection.query(
                "SELECT 1 FROM agent_runs WHERE thread_id = ? AND status = 'running'", [.text(threadID)])
            guard busy.isEmpty else { return .busy }
            if let userMessage {
                try connection.run(
                    "INSERT INTO messages (id, thread_id, role, content, created_at, run_id) VALUES (?, ?, 'user', ?, ?, ?)",
                    [.text(Identifier.uuid()), .text(threadID), .text(userMessage), .text(run.startedAt), .text(run.id)])
            }
            try connection.run("""
                INSERT INTO agent_runs (id, thread_id, status, model, max_steps, started_at) VALUES (?, ?, 'running', ?, ?, ?)
                """, [.text(run.id), .text(threadID), .text(model), .integer(Int64(maxSteps)), .text(run.startedAt)])
            return .started(run)
        }
    }

    /// The run, if its thread is the caller's.
    public func get(id: String, userID: String) async throws -> AgentRun? {
        try await database.run { connection in
            try connection.query("""
                SELECT \(Self.columns) FROM agent_runs r JOIN threads t ON t.id = r.thread_id
                JOIN projects p ON p.id = t.project_id WHERE r.id = ? AND p.user_id = ?
                """, [.text(id), .text(userID)]).first.map(Self.run)
        }
    }

    /// The thread's runs, newest first.
    public func list(threadID: String) async throws -> [AgentRun] {
        try await database.run { connection in
            try connection.query(
                "SELECT \(Self.columns) FROM agent_runs r WHERE r.thread_id = ? ORDER BY r.started_at DESC, r.rowid DESC",
                [.text(threadID)]
            ).map(Self.run)
        }
    }

    /// Stores one event; relaxed durability (see `Database.runRelaxed`).
    func appendEvent(runID: String, sequence: Int, payload: String) async throws {
        _ = try await database.runRelaxed { connection in
            try connection.run(
                "INSERT INTO agent_run_events (run_id, seq, payload) VALUES (?, ?, ?)",
                [.text(runID), .integer(Int64(sequence)), .text(payload)])
        }
    }

    /// The run's next events after `sequence`, in order: at most `limit` of them, and no more
    /// after the one that brings their payloads past `budget` characters (the first always
    /// comes). A stream reads a run in such batches, so its memory is one batch however many
    /// events the run has.
    func events(runID: String, after sequence: Int, limit: Int = 256, budget: Int = 256 << 10) async throws -> [(sequence: Int, payload: String)] {
        try await database.run { connection in
            try connection.query("""
                SELECT seq, payload FROM (
                    SELECT seq, payload, SUM(length(payload)) OVER (ORDER BY seq) - length(payload) AS before
                    FROM (SELECT seq, payload FROM agent_run_events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?)
                ) WHERE before < ? ORDER BY seq
                """,
                [.text(runID), .integer(Int64(sequence)), .integer(Int64(max(1, limit))), .integer(Int64(max(1, budget)))]
            ).map { (Int(try $0.integer("seq")), try $0.text("payload")) }
        }
    }

    func addUsage(runID: String, prompt: Int, completion: Int) async throws {
        _ = try await database.runRelaxed { connection in
            try connection.run(
                "UPDATE agent_runs SET prompt_tokens = prompt_tokens + ?, completion_tokens = completion_tokens + ? WHERE id = ?",
                [.integer(Int64(prompt)), .integer(Int64(completion)), .text(runID)])
        }
    }

    /// Records the run's end (its final event is stored first by the caller).
    func finish(runID: String, status: AgentRun.Status, error: String?) async throws {
        _ = try await database.run { connection in
            try connection.run(
                "UPDATE agent_runs SET status = ?, completed_at = ?, error = ? WHERE id = ?",
                [.text(status.rawValue), .text(Timestamp.iso8601()), error.map(SQLiteValue.text) ?? .null, .text(runID)])
        }
    }

    /// At start: runs the last host left running end `failed` ("host restarted"), each with an
    /// `error` and a final `status` event so their streams end. Answers how many there were.
    func failInterrupted() throws -> Int {
        try database.runBlocking { connection in
            try connection.transaction {
                let running = try connection.query("SELECT id FROM agent_runs WHERE status = 'running'").map { try $0.text("id") }
                for id in running {
                    let last = try connection.query(
                        "SELECT COALESCE(MAX(seq), 0) AS last FROM agent_run_events WHERE run_id = ?", [.text(id)]
                    ).first?.integer("last") ?? 0
                    let message = "host restarted"
                    for (offset, payload) in [
                        AgentEventPayload.text(.error(message), sequence: Int(last) + 1),
                        AgentEventPayload.text(.status("failed", message: message), sequence: Int(last) + 2),
                    ].enumerated() {
                        try connection.run(
                            "INSERT INTO agent_run_events (run_id, seq, payload) VALUES (?, ?, ?)",
                            [.text(id), .integer(last + 1 + Int64(offset)), .text(payload)])
                    }
                    try connection.run(
                        "UPDATE agent_runs SET status = 'failed', completed_at = ?, error = ? WHERE id = ?",
                        [.text(Timestamp.iso8601()), .text(message), .text(id)])
                }
                return running.count
            }
        }
    }
}
