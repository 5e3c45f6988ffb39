import SandboxRuntime

/// Users and their API keys in the database.
public struct UserStore: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    /// Creates a user; a taken name is a `.conflict`.
    public static func createUser(named name: String, in connection: SQLiteConnection) throws -> User {
        let user = User(id: Identifier.uuid(), name: name, createdAt: Timestamp.iso8601())
        do {
            try connection.run("INSERT INTO users (id, name, created_at) VALUES (?, ?, ?)",
                               [.text(user.id), .text(user.name), .text(user.createdAt)])
        } catch let error as HostError where error.code == .conflict {
            throw HostError(.conflict, "a user named '\(name)' already exists", cause: error)
        }
        return user
    }

    public static func user(named name: String, in connection: SQLiteConnection) throws -> User? {
        try connection.query("SELECT id, name, created_at FROM users WHERE name = ?", [.text(name)]).first.map {
            User(id: try $0.text("id"), name: try $0.text("name"), createdAt: try $0.text("created_at"))
        }
    }

    public static func userCount(in connection: SQLiteConnection) throws -> Int {
        Int(try connection.query("SELECT count(*) AS users FROM users").first?.integer("users") ?? 0)
    }

    /// Makes a new key for `user`, stores its hash, and returns the key (shown once) and its record.
    public static func createKey(for user: User, in connection: SQLiteConnection) throws -> (key: String, record: APIKeyRecord) {
        let key = APIKey.generate()
        let record = APIKeyRecord(
            id: key.id, userID: user.id, userName: user.name, hash: key.hash,
            createdAt: Timestamp.iso8601(), revokedAt: nil)
        try connection.run(
            "INSERT INTO api_keys (id, user_id, key_hash, created_at) VALUES (?, ?, ?, ?)",
            [.text(record.id), .text(user.id), .blob(record.hash), .text(record.createdAt)])
        return (key.secret, record)
    }

    /// Marks a key revoked; answers false when no such key exists.
    public static func revokeKey(id: String, in connection: SQLiteConnection) throws -> Bool {
        try connection.run(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?",
            [.text(Timestamp.iso8601()), .text(id)]) > 0
    }

    public static func keys(in connection: SQLiteConnection) throws -> [APIKeyRecord] {
        try connection.query("""
            SELECT k.id, k.user_id, u.name, k.key_hash, k.created_at, k.revoked_at
            FROM api_keys k JOIN users u ON u.id = k.user_id ORDER BY k.created_at
            """).map(Self.keyRecord)
    }

    /// The key record with this id, revoked or not.
    public func key(id: String) async throws -> APIKeyRecord? {
        try await database.run { connection in
            try connection.query("""
                SELECT k.id, k.user_id, u.name, k.key_hash, k.created_at, k.revoked_at
                FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.id = ?
                """, [.text(id)]).first.map(Self.keyRecord)
        }
    }

    private static func keyRecord(_ row: SQLiteRow) throws -> APIKeyRecord {
        APIKeyRecord(
            id: try row.text("id"), userID: try row.text("user_id"), userName: try row.text("name"),
            hash: try row.blob("key_hash"), createdAt: try row.text("created_at"), revokedAt: try row.optionalText("revoked_at"))
    }
}
