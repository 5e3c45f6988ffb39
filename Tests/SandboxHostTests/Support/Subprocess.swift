import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to its end and answers its exit status and output: the one way tests run git,
/// Python or the host's CLI. Bounded: past `timeout` the program is killed, and once it has exited
/// its output is read only while more comes (a daemon it left behind holding the pipe open, such
/// as a server started with `&`, would otherwise keep the read, and the suite, waiting forever).
enum Subprocess {
    /// `mergeStandardError`: stderr goes into the output too (for messages); leave it apart when
    /// the output is data (an archive on stdout).
    static func run(
        _ executable: String, _ arguments: [String], mergeStandardError: Bool = true, timeout: Duration = .seconds(300)
    ) throws -> (status: Int32, output: Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        if mergeStandardError { process.standardError = pipe }
        try process.run()
        let fd = pipe.fileHandleForReading.fileDescriptor
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        let deadline = ContinuousClock.now + timeout
        var output = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var quietSinceExit: ContinuousClock.Instant?
        reading: while ContinuousClock.now < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&poller, 1, 100)
            while true {
                let count = read(fd, &buffer, buffer.count)
                if count > 0 {
                    output.append(contentsOf: buffer[0..<count])
                    quietSinceExit = nil
                    continue
                }
                if count == 0 { break reading }  // end of output
                if errno == EINTR { continue }
                if errno != EAGAIN { break reading }
                break
            }
            if !process.isRunning {
                let since = quietSinceExit ?? ContinuousClock.now
                quietSinceExit = since
                if ContinuousClock.now - since > .seconds(2) { break }
            }
        }
        // The output ended (or the deadline passed): the program may still be exiting.
        while process.isRunning, ContinuousClock.now < deadline { usleep(5_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? pipe.fileHandleForReading.close()
        return (process.terminationStatus, output)
    }
}
