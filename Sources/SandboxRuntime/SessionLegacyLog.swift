import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Session logs of earlier versions (`sessions/<name>.jsonl`, one JSON line per event) turned
/// into the present form the first time the session is opened, then removed.
///
/// Read in chunks, one line at a time. Output lines too far from the end to fit the cap (more
/// than eight times the cap from it, JSON having escaped control bytes six-fold) are skipped
/// without being decoded; every command and exit is kept.
enum SessionLegacyLog {
    private struct Line: Decodable {
        var sequence: Int
        var type: String
        var command_id: String
        var command: String?
        var stream: String?
        var data: String?
        var exit_code: Int?
        var timestamp: Int64
    }

    /// A line longer than this is not one the old code wrote (its longest: 64 KiB escaped).
    static let longestLine = 16 << 20

    /// Whether `path` is an old log: a regular file, not a link.
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
    }

    static func convert(_ path: String, into directory: String, capacity: Int) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw RuntimeFailure.system("open old session log", errno) }
        defer { close(fd) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // What an interrupted conversion left: `commands` is made last, so it is not there.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasSuffix(".log") {
            unlink(directory + "/" + name)
        }
        let commandsFD = open(directory + "/commands.new", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard commandsFD >= 0 else { throw RuntimeFailure.system("open session log", errno) }
        defer { close(commandsFD) }
        var log = SessionLog(directory: directory, capacity: capacity)
        let keepFrom = max(0, SessionLogScanner.size(fd) - 8 * capacity)
        let decoder = JSONDecoder()
        let logMarker = Array(#""type":"log""#.utf8)
        var batch: [(bytes: [UInt8], sequence: Int)] = []
        var batchBytes = 0

        func take(_ line: ArraySlice<UInt8>, at position: Int) {
            if position < keepFrom, line.prefix(64).firstRange(of: logMarker) != nil { return }
            guard let event = try? decoder.decode(Line.self, from: Data(line)) else { return }
            let kind: SessionRecord.Kind
            let body: [UInt8]
            switch event.type {
            case "command": (kind, body) = (.command, Array((event.command ?? "").utf8))
            case "exit": (kind, body) = (.exit, SessionRecord.exitBody(event.exit_code ?? 0))
            case "log": (kind, body) = (event.stream == "stderr" ? .stderr : .stdout, Array((event.data ?? "").utf8))
            default: return
            }
            let bytes = SessionRecord(kind: kind, sequence: event.sequence, timestamp: event.timestamp, commandID: event.command_id, body: body).encoded()
            if kind != .stdout && kind != .stderr { _ = SessionLogScanner.writeAll(commandsFD, bytes) }
            batch.append((bytes, event.sequence))
            batchBytes += bytes.count
            if batchBytes >= 1 << 20 {
                log.append(batch)
                (batch, batchBytes) = ([], 0)
            }
        }

        var pending: [UInt8] = []
        var base = 0
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(base + pending.count)) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            pending += chunk[0..<count]
            var start = 0
            while let end = pending[start...].firstIndex(of: 0x0a) {
                take(pending[start..<end], at: base + start)
                start = end + 1
            }
            pending.removeFirst(start)
            base += start
            if pending.count > longestLine {
                // Not a line of ours: drop it.
                base += pending.count
                pending.removeAll()
            }
        }
        if !pending.isEmpty { take(pending[...], at: base) }
        log.append(batch)
        log.close()
        for generation in log.takeRetired() { unlink(log.path(generation)) }
        guard rename(directory + "/commands.new", directory + "/commands") == 0 else {
            throw RuntimeFailure.system("rename session log", errno)
        }
        unlink(path)
    }
}
