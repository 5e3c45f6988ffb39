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
/// Thread-safe. Output arrives on the poller thread and is appended under the lock (one bounded
/// write per pipe read); readers (`SessionCursor`) read the files and are only woken here, so a
/// slow or idle reader costs no memory.
public final class Session: Sendable {
    public let name: String
    public let createdAt: String
    let directory: String
    private let state: Mutex<State>

    public struct CommandState: Sendable {
        public let id: String
        public let command: String
        public var exitCode: Int?
        public var running: Bool
        /// The command's number in its sandbox (its cgroup's name), for killing it.
        let number: UInt32
    }

    private struct State {
        var log: SessionLog
        var commandsFD: Int32
        var sequence: Int
        var commands: [CommandState]
        var watchers: [UUID: @Sendable (_ closed: Bool) -> Void] = [:]
        /// The start of a UTF-8 character whose rest is still in the pipe, per command and stream.
        var pending: [String: [UInt8]] = [:]
        var closed = false
    }

    /// Opens (creating) the session's directory, continuing its sequence and command list from
    /// its files: `commands` is read in chunks, the log only at the ends of its segments.
    init(name: String, directory: String, capacity: Int) throws {
        self.name = name
        self.directory = directory
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
        state = Mutex(State(log: log, commandsFD: commandsFD, sequence: max(last, log.lastSequence), commands: commands))
    }

    deinit {
        state.withLock { state in
            state.log.close()
            _ = Glibc.close(state.commandsFD)
        }
    }

    public var commands: [CommandState] { state.withLock { $0.commands } }
    public var isRunning: Bool { state.withLock { $0.commands.contains { $0.running } } }
    /// The sequence of the last event.
    var lastSequence: Int { state.withLock { $0.sequence } }

    func started(id: String, command: String, number: UInt32) {
        state.withLock { state in
            state.commands.append(CommandState(id: id, command: command, exitCode: nil, running: true, number: number))
            Self.append(&state, .command, id: id, body: Array(command.utf8))
        }
    }

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
            if !data.isEmpty { Self.append(&state, kind, id: id, body: data) }
        }
    }

    /// Logs what is left of the command's output, then its exit, and marks it stopped, in one
    /// step: a reader that sees it stopped finds the exit in the log.
    func exited(id: String, code: Int) {
        state.withLock { state in
            for kind in [SessionRecord.Kind.stdout, .stderr] {
                if let held = state.pending.removeValue(forKey: id + (kind == .stdout ? "/stdout" : "/stderr")) {
                    Self.append(&state, kind, id: id, body: held)
                }
            }
            if let index = state.commands.firstIndex(where: { $0.id == id }) {
                state.commands[index].running = false
                state.commands[index].exitCode = code
            }
            Self.append(&state, .exit, id: id, body: SessionRecord.exitBody(code))
        }
    }

    /// Numbers the record, writes it to the log (and `command`/`exit` ones to `commands`), then
    /// wakes every reader.
    private static func append(_ state: inout State, _ kind: SessionRecord.Kind, id: String, body: [UInt8]) {
        state.sequence += 1
        let record = SessionRecord(kind: kind, sequence: state.sequence, timestamp: Timestamp.milliseconds(), commandID: id, body: body).encoded()
        state.log.append(record, sequence: state.sequence)
        if kind == .command || kind == .exit { _ = SessionLogScanner.writeAll(state.commandsFD, record) }
        for wake in state.watchers.values { wake(false) }
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
    func watch(_ wake: @escaping @Sendable (_ closed: Bool) -> Void) -> UUID {
        let id = UUID()
        let closed = state.withLock { state -> Bool in
            if !state.closed { state.watchers[id] = wake }
            return state.closed
        }
        if closed { wake(true) }
        return id
    }

    func unwatch(_ id: UUID) {
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
    func cursor(after sequence: Int) -> SessionCursor { SessionCursor(session: self, after: sequence) }

    // MARK: For readers: the segments, under the lock

    /// Where a reader at `generation` may read to, and whether that segment is finished (a newer
    /// one exists, or it was deleted: then `end` is nil and the reader's open file is all there is).
    func segmentEnd(_ generation: Int) -> (end: Int?, finished: Bool) {
        state.withLock { state in
            let end = state.log.end(of: generation)
            return (end, state.log.segments.last.map { $0.generation != generation } ?? true)
        }
    }

    /// Opens the first segment a reader that has seen up to `after` needs: the newest that
    /// starts at or before `after + 1`, or (none does) the oldest; or, when `generation` is given,
    /// the first one after it. Answers nil when there is none (yet).
    func openSegment(after sequence: Int, following generation: Int?) -> (fd: Int32, generation: Int, firstSequence: Int)? {
        state.withLock { state -> (fd: Int32, generation: Int, firstSequence: Int)? in
            let segments = state.log.segments
            let chosen: SessionLog.Segment?
            if let generation {
                chosen = segments.first { $0.generation > generation }
            } else {
                chosen = segments.last { $0.firstSequence <= sequence + 1 } ?? segments.first
            }
            guard let chosen else { return nil }
            let fd = open(state.log.path(chosen.generation), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else { return nil }
            return (fd: fd, generation: chosen.generation, firstSequence: chosen.firstSequence)
        }
    }

    /// Every segment, opened, with how far each may be read: a snapshot for one pass (`status`).
    func openSegments() -> [(fd: Int32, end: Int)] {
        state.withLock { state in
            state.log.segments.compactMap { segment in
                let fd = open(state.log.path(segment.generation), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
                return fd >= 0 ? (fd: fd, end: segment.size) : nil
            }
        }
    }
}
