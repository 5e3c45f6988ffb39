/// The schema, as an ordered list of migrations; `PRAGMA user_version` records how many ran.
///
/// Append new migrations; never edit one that has shipped.
enum Migrations {
    static let all: [String] = [
        // 1: users, API keys, projects, threads and messages.
        """
        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL
        );
        CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            key_hash BLOB NOT NULL,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        );
        CREATE INDEX api_keys_user ON api_keys(user_id);
        CREATE TABLE projects (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            description TEXT,
            image TEXT NOT NULL,
            sandbox_id TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX projects_user ON projects(user_id, created_at);
        CREATE TABLE threads (
            id TEXT PRIMARY KEY,
            project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL
        );
        CREATE INDEX threads_project ON threads(project_id, created_at);
        CREATE TABLE messages (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            thread_id TEXT NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'tool')),
            content TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX messages_thread ON messages(thread_id, seq);
        """,
        // 2: sandboxes, one per project at most; `slot` picks its host uid range. Whether one runs is
        // not stored: it is known from its process, and no sandbox outlives the host process.
        """
        CREATE TABLE sandboxes (
            id TEXT PRIMARY KEY,
            project_id TEXT NOT NULL UNIQUE REFERENCES projects(id) ON DELETE CASCADE,
            slot INTEGER NOT NULL UNIQUE,
            image TEXT NOT NULL,
            memory_mb INTEGER NOT NULL,
            cpus REAL NOT NULL,
            pids INTEGER NOT NULL,
            disk_mb INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            last_active_at TEXT NOT NULL
        );
        """,
        // 3: deployments (each one immutable once it ended; the newest deployed one is served).
        """
        CREATE TABLE deployments (
            id TEXT PRIMARY KEY,
            project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            state TEXT NOT NULL,
            branch TEXT NOT NULL,
            remote_url TEXT,
            build_command TEXT,
            output_dir TEXT,
            message TEXT NOT NULL,
            commit_sha TEXT,
            error TEXT,
            created_at TEXT NOT NULL,
            ready_at TEXT
        );
        CREATE INDEX deployments_project ON deployments(project_id, created_at);
        """,
        // 4: agent runs, their events (numbered per run, gap-free), and the tool fields of messages
        // so a follow-up run can replay the conversation to the model. At most one run per thread
        // is running: the partial unique index makes a racing second start fail.
        """
        CREATE TABLE agent_runs (
            id TEXT PRIMARY KEY,
            thread_id TEXT NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
            status TEXT NOT NULL,
            model TEXT NOT NULL,
            max_steps INTEGER NOT NULL,
            started_at TEXT NOT NULL,
            completed_at TEXT,
            error TEXT,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX agent_runs_thread ON agent_runs(thread_id, started_at);
        CREATE UNIQUE INDEX agent_runs_active ON agent_runs(thread_id) WHERE status = 'running';
        CREATE TABLE agent_run_events (
            run_id TEXT NOT NULL REFERENCES agent_runs(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            payload TEXT NOT NULL,
            PRIMARY KEY (run_id, seq)
        ) WITHOUT ROWID;
        ALTER TABLE messages ADD COLUMN tool_calls TEXT;
        ALTER TABLE messages ADD COLUMN tool_call_id TEXT;
        ALTER TABLE messages ADD COLUMN tool_name TEXT;
        ALTER TABLE messages ADD COLUMN run_id TEXT;
        """,
        // 5: each sandbox's preview token (made on first use): what a preview URL carries instead
        // of an API key.
        """
        ALTER TABLE sandboxes ADD COLUMN preview_token TEXT;
        """,
        // 6: the project's network policy (its sandbox's), as the API's JSON object; NULL: the
        // host default, whatever it is when the sandbox starts.
        """
        ALTER TABLE projects ADD COLUMN network TEXT;
        """,
    ]

    /// Applies each migration past the recorded version, each in its own transaction.
    static func apply(to connection: SQLiteConnection) throws {
        let current = try connection.query("PRAGMA user_version").first?.integer("user_version") ?? 0
        guard current < all.count else { return }
        for version in Int(current)..<all.count {
            try connection.transaction {
                // Another process (the CLI beside a running host) may have migrated meanwhile.
                let now = try connection.query("PRAGMA user_version").first?.integer("user_version") ?? 0
                guard now == version else { return }
                try connection.exec(all[version])
                try connection.exec("PRAGMA user_version = \(version + 1)")
            }
        }
    }
}
