/// The parts of a DNS message (RFC 1035) the resolver reads: the header, the one question, the
/// answer records (A and AAAA addresses with their TTLs, and where each TTL sits so it can be
/// capped), and the EDNS payload size. Parsing never traps: malformed input gives nil.
struct DNSMessage: Sendable {
    static let typeA: UInt16 = 1
    static let typeCNAME: UInt16 = 5
    static let typeAAAA: UInt16 = 28
    static let typeOPT: UInt16 = 41
    static let classIN: UInt16 = 1

    static let headerLength = 12
    /// A UDP answer never exceeds this without EDNS (RFC 1035 4.2.1).
    static let classicUDPLimit = 512

    enum ResponseCode: UInt16, Sendable {
        case noError = 0, formatError = 1, serverFailure = 2, nameError = 3, notImplemented = 4, refused = 5
    }

    struct Question: Sendable, Hashable {
        var name: DNSName
        var type: UInt16
        var recordClass: UInt16
    }

    /// One answer record; `address` is set for A (4 bytes) and AAAA (16 bytes) records of class IN.
    struct Record: Sendable {
        /// Where the record (its owner name) starts in the message.
        var offset: Int
        var type: UInt16
        var ttl: UInt32
        /// Where the record's 4-byte TTL starts in the message.
        var ttlOffset: Int
        var address: [UInt8]?
    }

    var id: UInt16
    var flags: UInt16
    var questions: [Question]
    var answers: [Record]
    /// The OPT record's payload size (its class field), when the message has one.
    var ednsPayloadSize: Int?

    var isResponse: Bool { flags & 0x8000 != 0 }
    var opcode: UInt16 { (flags >> 11) & 0xF }
    var isTruncated: Bool { flags & 0x0200 != 0 }
    var recursionDesired: Bool { flags & 0x0100 != 0 }
    var responseCode: UInt16 { flags & 0xF }

    /// Nil for anything malformed: too short, a count that promises more than the bytes hold, a
    /// bad name or pointer, a record running past the end, or bytes left over after the records.
    init?(parsing bytes: [UInt8]) {
        var reader = DNSWireReader(bytes)
        guard let id = reader.readUInt16(), let flags = reader.readUInt16(),
              let questionCount = reader.readUInt16(), let answerCount = reader.readUInt16(),
              let authorityCount = reader.readUInt16(), let additionalCount = reader.readUInt16()
        else { return nil }
        self.id = id
        self.flags = flags
        // Each question takes at least 5 bytes and each record 11: counts the bytes cannot hold
        // are refused before any loop runs.
        let least = Int(questionCount) * 5 + (Int(answerCount) + Int(authorityCount) + Int(additionalCount)) * 11
        guard least <= reader.remaining else { return nil }
        questions = []
        for _ in 0..<questionCount {
            guard let name = reader.readName(), let type = reader.readUInt16(), let recordClass = reader.readUInt16() else {
                return nil
            }
            questions.append(Question(name: name, type: type, recordClass: recordClass))
        }
        answers = []
        ednsPayloadSize = nil
        for section in 0..<3 {
            let count = [answerCount, authorityCount, additionalCount][section]
            for _ in 0..<count {
                let offset = reader.offset
                guard reader.readName() != nil, let type = reader.readUInt16(), let recordClass = reader.readUInt16() else {
                    return nil
                }
                let ttlOffset = reader.offset
                guard let ttl = reader.readUInt32(), let length = reader.readUInt16(),
                      let data = reader.skip(Int(length))
                else { return nil }
                if section == 0 {
                    var address: [UInt8]?
                    if recordClass == Self.classIN,
                       (type == Self.typeA && length == 4) || (type == Self.typeAAAA && length == 16) {
                        address = Array(bytes[data])
                    }
                    answers.append(Record(offset: offset, type: type, ttl: ttl, ttlOffset: ttlOffset, address: address))
                } else if section == 2, type == Self.typeOPT {
                    ednsPayloadSize = Int(recordClass)
                }
            }
        }
        guard reader.remaining == 0 else { return nil }
    }

    /// The one question of a query, or nil when it has none or several.
    var question: Question? { questions.count == 1 ? questions[0] : nil }

    /// A recursive query for `question` (no compression), with an OPT record offering
    /// `ednsPayloadSize` when given.
    static func query(id: UInt16, question: Question, ednsPayloadSize: Int?) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.append(uint16: id)
        bytes.append(uint16: 0x0100)  // a standard query, recursion desired
        bytes.append(uint16: 1)
        bytes.append(uint16: 0)
        bytes.append(uint16: 0)
        bytes.append(uint16: ednsPayloadSize == nil ? 0 : 1)
        bytes.append(question: question)
        if let ednsPayloadSize {
            bytes.append(0)  // the root name
            bytes.append(uint16: typeOPT)
            bytes.append(uint16: UInt16(clamping: ednsPayloadSize))
            bytes.append(contentsOf: [0, 0, 0, 0, 0, 0])  // extended rcode, version, flags, no options
        }
        return bytes
    }

    /// A reply with no records: `code` for `id`, echoing `question` when there is one.
    static func reply(id: UInt16, recursionDesired: Bool, question: Question?, code: ResponseCode, truncated: Bool = false) -> [UInt8] {
        var flags: UInt16 = 0x8000 | 0x0080 | code.rawValue  // a response, recursion available
        if recursionDesired { flags |= 0x0100 }
        if truncated { flags |= 0x0200 }
        var bytes: [UInt8] = []
        bytes.append(uint16: id)
        bytes.append(uint16: flags)
        bytes.append(uint16: question == nil ? 0 : 1)
        bytes.append(contentsOf: [0, 0, 0, 0, 0, 0])
        if let question { bytes.append(question: question) }
        return bytes
    }

    /// The id of a message that is at least a header long and is a query (not a response), so a
    /// malformed query can be told FORMERR; nil for anything else, which gets no answer.
    static func queryID(of bytes: [UInt8]) -> UInt16? {
        guard bytes.count >= headerLength, bytes[2] & 0x80 == 0 else { return nil }
        return UInt16(bytes[0]) << 8 | UInt16(bytes[1])
    }
}

extension [UInt8] {
    fileprivate mutating func append(uint16 value: UInt16) {
        append(UInt8(value >> 8))
        append(UInt8(value & 0xFF))
    }

    fileprivate mutating func append(question: DNSMessage.Question) {
        append(contentsOf: question.name.wireBytes)
        append(uint16: question.type)
        append(uint16: question.recordClass)
    }
}
