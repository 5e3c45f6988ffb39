import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A session's events on disk, capped: numbered segment files `<generation>.log` in the
/// session's directory. Records are appended to the newest; when it would grow past a quarter of
/// the cap a new one starts and the oldest of five is deleted, so the files hold at most the cap
/// (plus one record) and at least three full segments (the last three quarters of it, less the
/// room a record can leave at the end of each).
///
/// Not thread-safe: only the `SessionLogWriter` thread appends (under a lock of the session's
/// own), then publishes `segments` to readers and only then deletes the `retired` files. Readers
/// open segments by generation under the session's lock and never read past the published size.
struct SessionLog {
    struct Segment: Sendable {
        let generation: Int
        /// The sequence of its first record.
        let firstSequence: Int
        /// Bytes of whole records in it.
        var size: Int
    }

    static let segmentsKept = 4
    /// Records are gathered into writes of about this size.
    static let longestWrite = 1 << 20
    let directory: String
    let segmentBytes: Int
    /// Oldest first; the last is the one appended to.
    private(set) var segments: [Segment] = []
    private var fd: Int32 = -1
    /// The sequence of the last record in the files (0: none).
    private(set) var lastSequence = 0
    /// Segments dropped from `segments`, to delete once readers were told.
    private var retired: [Int] = []

    /// Opens the segments in `directory` left by an earlier run: reads the first record of each
    /// and the last of the newest (cutting a record torn by a crash), never whole files.
    init(directory: String, capacity: Int) {
        self.directory = directory
        segmentBytes = max(capacity / Self.segmentsKept, 64 << 10)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var generations = names.compactMap { name -> Int? in
            guard name.hasSuffix(".log"), let number = Int(name.dropLast(4)), number >= 0, "\(number).log" == name else { return nil }
            return number
        }.sorted()
        while generations.count > Self.segmentsKept { unlink(path(generations.removeFirst())) }
        for generation in generations {
            let fd = open(path(generation), O_RDWR | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else { continue }
            defer { Glibc.close(fd) }
            var first: SessionRecord?
            _ = SessionLogScanner.scan(fd, from: 0, to: SessionLogScanner.size(fd)) { first = $0; return false }
            guard let first else {
                unlink(path(generation))
                continue
            }
            segments.append(Segment(generation: generation, firstSequence: first.sequence, size: SessionLogScanner.size(fd)))
        }
        if var newest = segments.popLast() {
            let fd = open(path(newest.generation), O_RDWR | O_CLOEXEC | O_NOFOLLOW)
            if fd >= 0 {
                defer { Glibc.close(fd) }
                let (end, last) = Self.lastRecord(fd, size: newest.size)
                if end < newest.size { _ = ftruncate(fd, off_t(end)) }
                newest.size = end
                lastSequence = last?.sequence ?? newest.firstSequence
                segments.append(newest)
            }
        }
    }

    func path(_ generation: Int) -> String { Self.path(directory, generation) }
    static func path(_ directory: String, _ generation: Int) -> String { directory + "/\(generation).log" }

    /// Appends records in order, each run that fits the current segment in one write, starting a
    /// new segment when it is full; what the disk refuses is cut off again, so the files only
    /// ever hold whole records.
    mutating func append(_ records: [(bytes: [UInt8], sequence: Int)]) {
        var index = 0
        while index < records.count {
            let full = segments.last.map { $0.size > 0 && $0.size + records[index].bytes.count > segmentBytes } ?? true
            if fd < 0, !full, let last = segments.last {
                // Reopened after a restart: go on appending to the newest segment.
                fd = open(path(last.generation), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW)
            }
            if fd < 0 || full { startSegment(firstSequence: records[index].sequence) }
            guard fd >= 0, var current = segments.popLast() else { return }
            var run = records[index].bytes
            var last = records[index].sequence
            index += 1
            while index < records.count, run.count < Self.longestWrite,
                  current.size + run.count + records[index].bytes.count <= segmentBytes {
                run += records[index].bytes
                last = records[index].sequence
                index += 1
            }
            if SessionLogScanner.writeAll(fd, run) {
                current.size += run.count
                lastSequence = last
            } else {
                _ = ftruncate(fd, off_t(current.size))
            }
            segments.append(current)
        }
    }

    /// The segments dropped since the last call: delete them once readers no longer see them.
    mutating func takeRetired() -> [Int] {
        defer { retired.removeAll() }
        return retired
    }

    mutating func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    private mutating func startSegment(firstSequence: Int) {
        close()
        let generation = (segments.last?.generation ?? -1) + 1
        fd = open(path(generation), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return }
        segments.append(Segment(generation: generation, firstSequence: firstSequence, size: 0))
        while segments.count > Self.segmentsKept { retired.append(segments.removeFirst().generation) }
    }

    /// The end of the last whole record and that record: found from the file's end through the
    /// trailing length, or (the tail torn by a crash) by reading the records from the start.
    private static func lastRecord(_ fd: Int32, size: Int) -> (end: Int, record: SessionRecord?) {
        if size >= SessionRecord.overhead {
            var trailer: UInt32 = 0
            if pread(fd, &trailer, 4, off_t(size - 4)) == 4 {
                let length = Int(UInt32(littleEndian: trailer))
                if (SessionRecord.overhead...min(size, SessionRecord.maximumLength)).contains(length) {
                    var bytes = [UInt8](repeating: 0, count: length)
                    let count = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, length, off_t(size - length)) }
                    if count == length, let record = bytes.withUnsafeBytes({ SessionRecord.decode($0, at: 0) }) {
                        return (size, record)
                    }
                }
            }
        }
        var last: SessionRecord?
        let stop = SessionLogScanner.scan(fd, from: 0, to: size) { last = $0; return true }
        return (stop.offset, last)
    }
}
