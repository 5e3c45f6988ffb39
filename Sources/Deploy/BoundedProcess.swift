import Foundation
import Glibc
import Synchronization

/// Runs a program in a session (and process group) of its own, its standard output and error
/// together into one pipe of which only the last `outputCap` bytes are kept, with a deadline on
/// the whole run. Past the deadline the whole group is killed; when the program ends the rest of
/// its group is killed too, so a child left holding the pipe (ssh, a remote helper) cannot keep
/// the caller waiting. Blocking; call it off the shared pools.
enum BoundedProcess {
    struct Outcome {
        let status: Int32
        let output: Data
        let timedOut: Bool
    }

    /// How long the output is still read after the group is gone (a process that left the group
    /// and kept the pipe is not waited for).
    static let drainGrace: Duration = .seconds(2)

    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String], timeout: Duration, outputCap: Int
    ) throws -> Outcome {
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else { throw DeployError("cannot make a pipe for \(executable) (errno \(errno))") }
        for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }  // pipe2 is not in Swift's Glibc
        let (readEnd, writeEnd) = (pipeFDs[0], pipeFDs[1])
        let pid: pid_t
        do {
            pid = try spawn(executable, arguments, environment, output: writeEnd)
            close(writeEnd)
        } catch {
            close(readEnd)
            close(writeEnd)
            throw error
        }
        let reader = Reader(fd: readEnd, cap: outputCap)
        Thread { reader.drain() }.start()
        let deadline = ContinuousClock.now + timeout
        var timedOut = false
        while !exited(pid) {
            if ContinuousClock.now > deadline {
                timedOut = true
                break
            }
            usleep(5_000)
        }
        // The group goes while its leader is unreaped, so its id cannot have been reused.
        kill(-pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let output = reader.finish(within: drainGrace)
        let code: Int32 = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return Outcome(status: code, output: output, timedOut: timedOut)
    }

    /// Whether `pid` has ended, without reaping it.
    private static func exited(_ pid: pid_t) -> Bool {
        var info = siginfo_t()
        guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT | WNOHANG) == 0 else { return errno != EINTR }
        return info._sifields._kill.si_pid != 0
    }

    private static func spawn(_ executable: String, _ arguments: [String], _ environment: [String: String], output: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, output, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A new session: its own process group, no controlling terminal. Signals as a fresh
        // program expects them (the host ignores SIGPIPE, which would otherwise be inherited).
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        let setsid: Int32 = 0x80  // POSIX_SPAWN_SETSID (glibc 2.26)
        posix_spawnattr_setflags(&attributes, Int16(setsid | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw DeployError(result == ENOENT ? "\(executable) is not installed on the host" : "\(executable) cannot be run (errno \(result))") }
        return pid
    }

    /// Reads the pipe on a thread of its own, keeping the last `cap` bytes.
    private final class Reader: Sendable {
        let fd: Int32
        let cap: Int
        private let state = Mutex<(data: Data, done: Bool, stop: Bool)>((Data(), false, false))
        private let finished = DispatchSemaphore(value: 0)

        init(fd: Int32, cap: Int) {
            self.fd = fd
            self.cap = cap
        }

        func drain() {
            defer {
                close(fd)
                state.withLock { $0.done = true }
                finished.signal()
            }
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&poller, 1, 100)
                if ready < 0 && errno == EINTR { continue }
                if state.withLock({ $0.stop }) { return }
                if ready == 0 { continue }
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
                if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                guard count > 0 else { return }
                state.withLock { state in
                    state.data.append(contentsOf: buffer[0..<count])
                    if state.data.count > 2 * cap { state.data = Data(state.data.suffix(cap)) }
                }
            }
        }

        /// The output kept, once the pipe ended or `grace` passed (then the reader is told to stop).
        func finish(within grace: Duration) -> Data {
            let seconds = Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18
            if finished.wait(timeout: .now() + seconds) == .timedOut {
                state.withLock { $0.stop = true }
            }
            return state.withLock { Data($0.data.suffix(cap)) }
        }
    }
}
