import CSQLite

/// One libsqlite3 connection with a cache of prepared statements.
///
/// Not thread-safe: `Database` owns it inside a `Mutex` and only touches it on its own thread.
public final class SQLiteConnection {
    private var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]

    /// Tells SQLite to copy bound text and blobs, since Swift may free them after binding.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    /// Opens (creating if needed) the database file with WAL, foreign keys, a busy timeout and
    /// full synchronous commits, so an acknowledged write survives a crash of the host.
    public init(path: String, busyTimeoutMilliseconds: Int32 = 5_000) throws {
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw HostError.internalError("cannot open the database", cause: SQLiteFailure(code: rc, message: message))
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
        try exec("PRAGMA journal_mode = WAL")
        try exec("PRAGMA synchronous = FULL")
        try exec("PRAGMA foreign_keys = ON")
    }

    deinit { close() }

    /// Finalizes every cached statement and closes the connection. Safe to call twice.
    public func close() {
        for statement in statements.values { sqlite3_finalize(statement) }
        statements.removeAll()
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    /// Runs one or more statements without parameters (migrations, pragmas).
    public func exec(_ sql: String) throws {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        if rc != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? "error \(rc)"
            sqlite3_free(errorMessage)
            throw Self.hostError(SQLiteFailure(code: rc, message: message))
        }
    }

    /// Runs a statement and returns every row it produces.
    @discardableResult
    public func query(_ sql: String, _ parameters: [SQLiteValue] = []) throws -> [SQLiteRow] {
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        try bind(parameters, to: statement)
        let names = columnNames(of: statement)
        var rows: [SQLiteRow] = []
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw Self.hostError(failure(rc)) }
            rows.append(row(of: statement, names: names))
        }
        return rows
    }

    /// Runs a statement that returns no rows; answers how many rows it changed.
    @discardableResult
    public func run(_ sql: String, _ parameters: [SQLiteValue] = []) throws -> Int {
        try query(sql, parameters)
        return Int(sqlite3_changes(handle))
    }

    /// Runs `body` inside `BEGIN IMMEDIATE … COMMIT`, rolling back when it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try exec("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try exec("COMMIT")
            return result
        } catch {
            try? exec("ROLLBACK")
            throw error
        }
    }

    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let cached = statements[sql] { return cached }
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw Self.hostError(failure(rc)) }
        statements[sql] = statement
        return statement
    }

    private func bind(_ parameters: [SQLiteValue], to statement: OpaquePointer) throws {
        for (offset, value) in parameters.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(statement, index)
            case .integer(let int): rc = sqlite3_bind_int64(statement, index, int)
            case .real(let double): rc = sqlite3_bind_double(statement, index, double)
            case .text(let text): rc = sqlite3_bind_text(statement, index, text, -1, Self.transient)
            case .blob(let bytes):
                rc = bytes.withUnsafeBytes {
                    sqlite3_bind_blob(statement, index, $0.baseAddress, Int32($0.count), Self.transient)
                }
            }
            guard rc == SQLITE_OK else { throw Self.hostError(failure(rc)) }
        }
    }

    /// The result's column names (each column's `AS`, or its own name), to their positions; the
    /// first of two columns with one name wins.
    private func columnNames(of statement: OpaquePointer) -> [String: Int] {
        var names: [String: Int] = [:]
        for column in 0..<sqlite3_column_count(statement) {
            guard let pointer = sqlite3_column_name(statement, column) else { continue }
            let name = String(cString: pointer)
            if names[name] == nil { names[name] = Int(column) }
        }
        return names
    }

    private func row(of statement: OpaquePointer, names: [String: Int]) -> SQLiteRow {
        let count = sqlite3_column_count(statement)
        var values: [SQLiteValue] = []
        values.reserveCapacity(Int(count))
        for column in 0..<count {
            switch sqlite3_column_type(statement, column) {
            case SQLITE_INTEGER: values.append(.integer(sqlite3_column_int64(statement, column)))
            case SQLITE_FLOAT: values.append(.real(sqlite3_column_double(statement, column)))
            case SQLITE_TEXT: values.append(.text(String(cString: sqlite3_column_text(statement, column))))
            case SQLITE_BLOB:
                let length = Int(sqlite3_column_bytes(statement, column))
                if let pointer = sqlite3_column_blob(statement, column), length > 0 {
                    values.append(.blob(Array(UnsafeRawBufferPointer(start: pointer, count: length))))
                } else {
                    values.append(.blob([]))
                }
            default: values.append(.null)
            }
        }
        return SQLiteRow(names: names, values: values)
    }

    private func failure(_ rc: Int32) -> SQLiteFailure {
        SQLiteFailure(code: rc, message: String(cString: sqlite3_errmsg(handle)))
    }

    /// A unique-constraint failure is the client's doing (409); anything else is ours (500).
    private static func hostError(_ failure: SQLiteFailure) -> HostError {
        // SQLITE_CONSTRAINT_UNIQUE and _PRIMARYKEY: function-like macros Swift does not import.
        if failure.code == SQLITE_CONSTRAINT | (8 << 8) || failure.code == SQLITE_CONSTRAINT | (6 << 8) {
            return HostError(.conflict, "already exists", cause: failure)
        }
        return HostError.internalError("database error", cause: failure)
    }
}

/// What libsqlite3 reported; carried as a `HostError`'s cause, never shown to clients.
public struct SQLiteFailure: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let message: String
    public var description: String { "sqlite error \(code): \(message)" }
}
