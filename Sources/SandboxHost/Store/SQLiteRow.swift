/// One result row; columns are read by the name the `SELECT` gives them (the column's own name,
/// or its `AS`), never by position, so reordering a column list cannot shift every field after it.
public struct SQLiteRow: Sendable {
    /// The statement's column names, shared by every row of one result.
    let names: [String: Int]
    let values: [SQLiteValue]

    /// The value of column `name`; a name the statement does not have is our bug, a 500.
    public func value(_ name: String) throws -> SQLiteValue {
        guard let index = names[name] else { throw HostError.internalError("no column named '\(name)' in the row") }
        return values[index]
    }

    func text(_ name: String) throws -> String {
        guard let value = try value(name).string else { throw HostError.internalError("column '\(name)' is not text") }
        return value
    }

    func optionalText(_ name: String) throws -> String? { try value(name).string }

    func integer(_ name: String) throws -> Int64 {
        guard let value = try value(name).int else { throw HostError.internalError("column '\(name)' is not an integer") }
        return value
    }

    /// A REAL column (SQLite stores a whole number written to one as an integer).
    func real(_ name: String) throws -> Double {
        switch try value(name) {
        case .real(let double): return double
        case .integer(let int): return Double(int)
        default: throw HostError.internalError("column '\(name)' is not a number")
        }
    }

    func blob(_ name: String) throws -> [UInt8] {
        switch try value(name) {
        case .blob(let bytes): return bytes
        case .text(let text): return Array(text.utf8)
        default: throw HostError.internalError("column '\(name)' is not a blob")
        }
    }
}
