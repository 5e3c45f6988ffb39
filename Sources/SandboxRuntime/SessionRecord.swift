/// One entry of a session's log as stored on disk: length-prefixed binary, output bytes raw.
///
/// ```
/// u32 length (of the whole record, little-endian) │ u8 kind │ u64 sequence │ i64 timestamp (ms)
/// │ u8 id length │ command id │ body │ u32 length again
/// ```
/// The body is the command line (`command`), the output bytes as read from the pipe (`stdout`,
/// `stderr`: stored 1×, whatever they are) or the exit code as an i64 (`exit`). The trailing
/// length lets the last record of a file be found from its end, and a torn one be recognised.
struct SessionRecord: Sendable, Equatable {
    enum Kind: UInt8, Sendable { case command = 1, stdout = 2, stderr = 3, exit = 4 }

    var kind: Kind
    var sequence: Int
    var timestamp: Int64
    var commandID: String
    var body: [UInt8]

    /// Bytes of a record with an empty id and body: the header and the trailing length.
    static let overhead = 26
    /// A record longer than this is not one of ours (the longest body is a command line).
    static let maximumLength = 64 << 20

    func encoded() -> [UInt8] {
        let id = Array(commandID.utf8.prefix(255))
        let length = Self.overhead + id.count + body.count
        var bytes: [UInt8] = []
        bytes.reserveCapacity(length)
        Self.append(UInt32(length), to: &bytes)
        bytes.append(kind.rawValue)
        Self.append(UInt64(bitPattern: Int64(sequence)), to: &bytes)
        Self.append(UInt64(bitPattern: timestamp), to: &bytes)
        bytes.append(UInt8(id.count))
        bytes.append(contentsOf: id)
        bytes.append(contentsOf: body)
        Self.append(UInt32(length), to: &bytes)
        return bytes
    }

    /// The record whose length field is at `start` of `bytes`, when whole and well-formed.
    static func decode(_ bytes: UnsafeRawBufferPointer, at start: Int) -> SessionRecord? {
        guard let length = self.length(bytes, at: start), start + length <= bytes.count,
              let kind = Kind(rawValue: bytes[start + 4]),
              Int(bytes.loadUnaligned(fromByteOffset: start + length - 4, as: UInt32.self).littleEndian) == length
        else { return nil }
        let idLength = Int(bytes[start + 21])
        guard overhead + idLength <= length else { return nil }
        let sequence = Int(Int64(bitPattern: bytes.loadUnaligned(fromByteOffset: start + 5, as: UInt64.self).littleEndian))
        let timestamp = Int64(bitPattern: bytes.loadUnaligned(fromByteOffset: start + 13, as: UInt64.self).littleEndian)
        let id = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(start + 22)..<(start + 22 + idLength)]), as: UTF8.self)
        let body = Array(bytes[(start + 22 + idLength)..<(start + length - 4)])
        return SessionRecord(kind: kind, sequence: sequence, timestamp: timestamp, commandID: id, body: body)
    }

    /// The length field at `start`, when there are four bytes and it is a plausible length.
    static func length(_ bytes: UnsafeRawBufferPointer, at start: Int) -> Int? {
        guard start + 4 <= bytes.count else { return nil }
        let length = Int(bytes.loadUnaligned(fromByteOffset: start, as: UInt32.self).littleEndian)
        return (overhead...maximumLength).contains(length) ? length : nil
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// The event this record is, as streamed; output is decoded as UTF-8 (invalid bytes become U+FFFD).
    var event: SessionEvent {
        switch kind {
        case .command:
            SessionEvent(sequence: sequence, type: .command, command_id: commandID, command: String(decoding: body, as: UTF8.self), timestamp: timestamp)
        case .stdout, .stderr:
            SessionEvent(
                sequence: sequence, type: .log, command_id: commandID, stream: kind == .stdout ? "stdout" : "stderr",
                data: String(decoding: body, as: UTF8.self), timestamp: timestamp)
        case .exit:
            SessionEvent(sequence: sequence, type: .exit, command_id: commandID, exit_code: exitCode, timestamp: timestamp)
        }
    }

    /// An `exit` record's code.
    var exitCode: Int? {
        guard kind == .exit, body.count == 8 else { return nil }
        return Int(Int64(bitPattern: body.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian }))
    }

    static func exitBody(_ code: Int) -> [UInt8] {
        withUnsafeBytes(of: UInt64(bitPattern: Int64(code)).littleEndian) { Array($0) }
    }
}
