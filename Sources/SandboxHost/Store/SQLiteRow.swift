/// One result row; columns are read by position, in the order of the `SELECT`.
public struct SQLiteRow: Sendable {
    public let values: [SQLiteValue]

    public subscript(_ index: Int) -> SQLiteValue { values[index] }

    func text(_ index: Int) throws -> String {
        guard let value = values[index].string else {
            throw HostError.internalError("column \(index) is not text")
        }
        return value
    }

    func optionalText(_ index: Int) -> String? { values[index].string }

    func integer(_ index: Int) throws -> Int64 {
        guard let value = values[index].int else {
            throw HostError.internalError("column \(index) is not an integer")
        }
        return value
    }

    func blob(_ index: Int) throws -> [UInt8] {
        switch values[index] {
        case .blob(let bytes): return bytes
        case .text(let text): return Array(text.utf8)
        default: throw HostError.internalError("column \(index) is not a blob")
        }
    }
}
