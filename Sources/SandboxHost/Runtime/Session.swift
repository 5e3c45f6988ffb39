import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A named session of a sandbox: the non-blocking commands run in it, and their output, logged
/// to a file (JSON lines, one `SessionEvent` each) that outlives the host process.
///
/// Thread-safe. Output arrives on the poller thread; subscribers (SSE streams) get every event
/// after the ones they replayed from the file, in sequence order.
public final class Session: Sendable {
    public let name: String
    public let createdAt: String
    let logPath: String
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
        var fd: Int32
        var sequence: Int
        var commands: [CommandState]
        var subscribers: [UUID: AsyncStream<SessionEvent>.Continuation] = [:]
    }

    /// Opens (creating) the session's log, continuing its sequence and command list from the file.
    init(name: String, directory: String) throws {
        self.name = name
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        logPath = directory + "/" + name + ".jsonl"
        let existing = Self.read(logPath)
        var commands: [CommandState] = []
        for event in existing {
            switch event.type {
            case .command:
                commands.append(CommandState(id: event.command_id, command: event.command ?? "", exitCode: nil, running: false, number: 0))
            case .exit:
                if let index = commands.firstIndex(where: { $0.id == event.command_id }) { commands[index].exitCode = event.exit_code }
            case .log:
                break
            }
        }
        let fd = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RuntimeFailure.system("open session log", errno) }
        createdAt = existing.first.map { Timestamp.iso8601(milliseconds: $0.timestamp) } ?? Timestamp.iso8601()
        state = Mutex(State(fd: fd, sequence: existing.last?.sequence ?? 0, commands: commands))
    }

    deinit {
        _ = state.withLock { Glibc.close($0.fd) }
    }

    public var commands: [CommandState] { state.withLock { $0.commands } }
    public var isRunning: Bool { state.withLock { $0.commands.contains { $0.running } } }

    func started(id: String, command: String, number: UInt32) {
        state.withLock { $0.commands.append(CommandState(id: id, command: command, exitCode: nil, running: true, number: number)) }
        append(SessionEvent(sequence: 0, type: .command, command_id: id, command: command, timestamp: Timestamp.milliseconds()))
    }

    func output(id: String, stream: OutputCollector.Stream, bytes: [UInt8]) {
        append(SessionEvent(
            sequence: 0, type: .log, command_id: id, stream: stream == .stdout ? "stdout" : "stderr",
            data: String(decoding: bytes, as: UTF8.self), timestamp: Timestamp.milliseconds()))
    }

    func exited(id: String, code: Int) {
        state.withLock { state in
            if let index = state.commands.firstIndex(where: { $0.id == id }) {
                state.commands[index].running = false
                state.commands[index].exitCode = code
            }
        }
        append(SessionEvent(sequence: 0, type: .exit, command_id: id, exit_code: code, timestamp: Timestamp.milliseconds()))
    }

    /// Numbers the event, writes it to the log, then hands it to every subscriber.
    private func append(_ event: SessionEvent) {
        var event = event
        state.withLock { state in
            state.sequence += 1
            event.sequence = state.sequence
            if var line = try? JSONEncoder().encode(event) {
                line.append(0x0a)
                _ = line.withUnsafeBytes { write(state.fd, $0.baseAddress, $0.count) }
            }
            for continuation in state.subscribers.values { continuation.yield(event) }
        }
    }

    /// Every event after `sequence`: those logged so far, then live ones. The stream finishes
    /// when `unsubscribe` is called (the reader went away) or the session is closed.
    func events(after sequence: Int) -> (id: UUID, replay: [SessionEvent], live: AsyncStream<SessionEvent>) {
        let id = UUID()
        let (stream, continuation) = AsyncStream<SessionEvent>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        // Subscribe under the lock and note the last sequence written; every event up to it is in
        // the file, every later one reaches the stream. The file is read after the lock is let go,
        // so a long replay never holds up output arriving on the poller thread.
        let subscribedAt = state.withLock { state -> Int in
            state.subscribers[id] = continuation
            return state.sequence
        }
        let replay = Self.read(logPath).filter { $0.sequence > sequence && $0.sequence <= subscribedAt }
        return (id, replay, stream)
    }

    func unsubscribe(_ id: UUID) {
        state.withLock { $0.subscribers.removeValue(forKey: id) }?.finish()
    }

    /// Ends every subscriber's stream (the session or its sandbox is going away).
    func close() {
        let subscribers = state.withLock { state in
            defer { state.subscribers.removeAll() }
            return state.subscribers
        }
        subscribers.values.forEach { $0.finish() }
    }

    static func read(_ path: String) -> [SessionEvent] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        let decoder = JSONDecoder()
        return data.split(separator: 0x0a).compactMap { try? decoder.decode(SessionEvent.self, from: Data($0)) }
    }
}
