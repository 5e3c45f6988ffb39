import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A named session of a sandbox: the non-blocking commands run in it, and their output, logged
/// to files that outlive the host process.
///
/// On disk, in the session's directory: `commands` (every `command` and `exit` record, not
/// capped) and the capped `SessionLog` of every event. Records are binary (`SessionRecord`),
/// output stored as the bytes read.
///
/// Thread-safe. Output arrives on the poller thread, is numbered under the lock and queued to the
/// `SessionLogWriter`, whose thread writes it and then publishes it here: the segments as they
/// now are, commands that exited, and a wake-up to readers. Readers (`SessionCursor`) read the
/// files and are only woken here, so a slow or idle reader costs no memory.
public final class Session: Sendable {
    public let name: String
    public let createdAt: String
    let directory: String
    private let state: Mutex<State>
    /// The files, used by the writer thread only (and by `init` and `deinit`).
    private let files: Mutex<Files>
    private let writer: SessionLogWriter

    public struct CommandState: Sendable {
        public let id: String
        public let command: String
        public var exitCode: Int?
        public var running: Bool
        /// The command's number in its sandbox (its cgroup's name), for killing it.
        let number: UInt32
    }

    private struct Files {
        var log: SessionLog
        var commandsFD: Int32
    }

    private struct State {
        /// What readers may read: the segments with the size of what was written.
        var segments: [SessionLog.Segment]
        /// The last sequence numbered (written or queued).
        var sequence: Int
        var commands: [CommandState]
        var watchers: [UUID: @Sendable (_ closed: Bool) -> Void] = [:]
        /// The start of a UTF-8 character whose rest is still in the pipe, per command and stream.
        var pending: [String: [UInt8]] = [:]
        var closed = false
    }

    /// Opens (creating) the session's directory, continuing its sequence and command list from
    /// its files: `commands` is read in chunks, the log only at the ends of its segments.
    init(name: String, directory: String, capacity: Int, writer: SessionLogWriter = .shared) throws {
        self.name = name
        self.directory = directory
        self.writer = writer
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let commandsFD = open(directory + "/commands", O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard commandsFD >= 0 else { throw RuntimeFailure.system("open session log", errno) }
        var commands: [CommandState] = []
        var first: SessionRecord?
        var last = 0
        let stop = SessionLogScanner.scan(commandsFD, from: 0, to: SessionLogScanner.size(commandsFD)) { record in
            if first == nil { first = record }
            last = record.sequence
            switch record.kind {
            case .command:
                commands.append(CommandState(
                    id: record.commandID, command: String(decoding: record.body, as: UTF8.self), exitCode: nil, running: false, number: 0))
            case .exit:
                if let index = commands.lastIndex(where: { $0.id == record.commandID }) { commands[index].exitCode = record.exitCode }
            case .stdout, .stderr:
                break
            }
            return true
        }
        if stop.corrupt { _ = ftruncate(commandsFD, off_t(stop.offset)) }
        let log = SessionLog(directory: directory, capacity: capacity)
        createdAt = first.map { Timestamp.iso8601(milliseconds: $0.timestamp) } ?? Timestamp.iso8601()
        state = Mutex(State(segments: log.segments, sequence: max(last, log.lastSequence), commands: commands))
        files = Mutex(Files(log: log, commandsFD: commandsFD))
    }

    deinit {
        files.withLock { files in
            files.log.close()
            _ = Glibc.close(files.commandsFD)
        }
    }

    public var commands: [CommandState] { state.withLock { $0.commands } }
    public var isRunning: Bool { state.withLock { $0.commands.contains { $0.running } } }
    /// The sequence of the last event.
    var lastSequence: Int { state.withLock { $0.sequence } }

    func started(id: String, command: String, number: UInt32) {
        state.withLock { state in
            state.commands.append(CommandState(id: id, command: command, exitCode: nil, running: true, number: number))
            append(&state, .command, id: id, body: Array(command.utf8))
        }
    }

    /// Back-pressure for the pipes feeding this session (see `SessionLogWriter`): whether its
    /// queue to the writer is full now.
    var isFull: Bool { writer.isFull(self) }

    /// When the session's queue is full, keeps `resume` (called once on the writer's thread when
    /// there is room) and answers true; false when there is room now.
    func waitForRoom(resume: @escaping @Sendable () -> Void) -> Bool {
        writer.waitForRoom(self, resume: resume)
    }

    /// Logs a chunk of a command's output. Never waits for the disk: the caller (the poller)
    /// checks `isFull` first and stops reading the pipe while it is.
    func output(id: String, stream: OutputCollector.Stream, bytes: [UInt8]) {
        let kind: SessionRecord.Kind = stream == .stdout ? .stdout : .stderr
        let key = id + (kind == .stdout ? "/stdout" : "/stderr")
        state.withLock { state in
            var data = bytes
            if let held = state.pending.removeValue(forKey: key) { data = held + bytes }
            let cut = Self.incompleteCharacter(data)
            if cut > 0 {
                state.pending[key] = Array(data.suffix(cut))
                data.removeLast(cut)
            }
            if !data.isEmpty { append(&state, kind, id: id, body: data) }
        }
    }

    /// Logs what is left of the command's output, then its exit. The command shows as stopped
    /// once the exit is written: a reader that sees it stopped finds the exit in the log.
    func exited(id: String, code: Int) {
        state.withLock { state in
            for kind in [SessionRecord.Kind.stdout, .stderr] {
                if let held = state.pending.removeValue(forKey: id + (kind == .stdout ? "/stdout" : "/stderr")) {
                    append(&state, kind, id: id, body: held)
                }
            }
            append(&state, .exit, id: id, body: SessionRecord.exitBody(code))
        }
    }

    /// Numbers the record and queues it, under the lock: records reach the writer in sequence
    /// order. Never waits: producers of output hold back on their own (`waitForRoom`).
    private func append(_ state: inout State, _ kind: SessionRecord.Kind, id: String, body: [UInt8]) {
        state.sequence += 1
        let record = SessionRecord(kind: kind, sequence: state.sequence, timestamp: Timestamp.milliseconds(), commandID: id, body: body)
        writer.push(SessionLogWriter.Job(session: self, record: record))
    }

    /// On the writer thread: writes the records (`command` and `exit` ones to `commands` too),
    /// then publishes them to readers, then deletes segments the log dropped.
    func write(_ records: [SessionRecord]) {
        let encoded = records.map { (bytes: $0.encoded(), sequence: $0.sequence) }
        let (segments, retired) = files.withLock { files in
            files.log.append(encoded)
            for (record, bytes) in zip(records, encoded) where record.kind == .command || record.kind == .exit {
                _ = SessionLogScanner.writeAll(files.commandsFD, bytes.bytes)
            }
            return (files.log.segments, files.log.takeRetired())
        }
        state.withLock { state in
            state.segments = segments
            for record in records where record.kind == .exit {
                if let index = state.commands.lastIndex(where: { $0.id == record.commandID }) {
                    state.commands[index].running = false
                    state.commands[index].exitCode = record.exitCode
                }
            }
            for wake in state.watchers.values { wake(false) }
        }
        for generation in retired { unlink(SessionLog.path(directory, generation)) }
    }

    /// Bytes at the end of `data` that begin a UTF-8 character without finishing it.
    static func incompleteCharacter(_ data: [UInt8]) -> Int {
        guard !data.isEmpty else { return 0 }
        for back in 1...min(3, data.count) {
            let byte = data[data.count - back]
            if byte & 0xC0 == 0x80 { continue }
            let length = switch byte {
            case 0xC2...0xDF: 2
            case 0xE0...0xEF: 3
            case 0xF0...0xF4: 4
            default: 1
            }
            return length > back ? back : 0
        }
        return 0
    }

    /// Calls `wake(false)` after every event appended from now on and `wake(true)` once when the
    /// session closes. `wake` runs under the session's lock: it must only signal.
    public func watch(_ wake: @escaping @Sendable (_ closed: Bool) -> Void) -> UUID {
        let id = UUID()
        let closed = state.withLock { state -> Bool in
            if !state.closed { state.watchers[id] = wake }
            return state.closed
        }
        if closed { wake(true) }
        return id
    }

    public func unwatch(_ id: UUID) {
        _ = state.withLock { $0.watchers.removeValue(forKey: id) }
    }

    /// Ends every reader (the session or its sandbox is going away).
    func close() {
        let watchers = state.withLock { state in
            state.closed = true
            defer { state.watchers.removeAll() }
            return state.watchers
        }
        watchers.values.forEach { $0(true) }
    }

    /// A reader of the events after `sequence`, from the files.
    public func cursor(after sequence: Int) -> SessionCursor { SessionCursor(session: self, after: sequence) }

    // MARK: For readers: the segments, under the lock

    /// Where a reader at `generation` may read to, and whether that segment is finished (a newer
    /// one exists, or it was deleted: then `end` is nil and the reader's open file is all there is).
    func segmentEnd(_ generation: Int) -> (end: Int?, finished: Bool) {
        state.withLock { state in
            let end = state.segments.first { $0.generation == generation }?.size
            return (end, state.segments.last.map { $0.generation != generation } ?? true)
        }
    }

    /// Opens the first segment a reader that has seen up to `after` needs: the newest that
    /// starts at or before `after + 1`, or (none does) the oldest; or, when `generation` is given,
    /// the first one after it. Answers nil when there is none (yet).
    func openSegment(after sequence: Int, following generation: Int?) -> (fd: Int32, generation: Int, firstSequence: Int)? {
        state.withLock { state -> (fd: Int32, generation: Int, firstSequence: Int)? in
            let segments = state.segments
            let chosen: SessionLog.Segment?
            if let generation {
                chosen = segments.first { $0.generation > generation }
            } else {
                chosen = segments.last { $0.firstSequence <= sequence + 1 } ?? segments.first
            }
            guard let chosen else { return nil }
            let fd = open(SessionLog.path(directory, chosen.generation), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else { return nil }
            return (fd: fd, generation: chosen.generation, firstSequence: chosen.firstSequence)
        }
    }

    /// Every segment, opened, with how far each may be read: a snapshot for one pass (`status`).
    func openSegments() -> [(fd: Int32, end: Int)] {
        state.withLock { state in
            state.segments.compactMap { segment in
                let fd = open(SessionLog.path(directory, segment.generation), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
                return fd >= 0 ? (fd: fd, end: segment.size) : nil
            }
        }
    }
}
