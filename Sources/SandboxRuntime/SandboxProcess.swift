import CSandbox
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One running sandbox as the host sees it: the control socket to its PID 1 (sandbox-init), and
/// the commands in flight over it.
///
/// Thread-safe: state sits behind a lock; replies arrive on the `EventPoller` thread.
final class SandboxProcess: Sendable {
    let sandboxID: String
    let outerPID: pid_t
    private let controlFD: Int32
    private let pidFD: Int32
    private let poller: EventPoller
    private let state = Mutex(State())

    private struct State {
        var initPID: pid_t?
        /// A pidfd of PID 1 (sandbox-init sends it with the pid), -1 before then and once the
        /// sandbox is reaped. Signals go through it: PID 1 is reaped by the outer sandbox-init, not
        /// by us, so its pid number may belong to another process by the time we use it.
        var initPidFD: Int32 = -1
        var ready: Result<Void, RuntimeFailure>?
        var readyWaiters: [CheckedContinuation<Void, any Error>] = []
        var spawns: [UInt32: CheckedContinuation<Int32, any Error>] = [:]
        /// Terminals being spawned: answered with the pid inside and the master's descriptor.
        var terminalSpawns: [UInt32: CheckedContinuation<(pid: Int32, master: Int32), any Error>] = [:]
        var exitWaiters: [UInt32: CheckedContinuation<Int32, Never>] = [:]
        var exitStatuses: [UInt32: Int32] = [:]
        var nextCommand: UInt32 = 1
        var dead = false
        var deathWaiters: [CheckedContinuation<Void, Never>] = []
        var reaped = false
        var reapWaiters: [CheckedContinuation<Void, Never>] = []
    }

    /// The wait status reported for commands of a sandbox that died under them (SIGKILL).
    static let killedStatus: Int32 = 9

    /// posix_spawns sandbox-init with `arguments` and starts listening to it. Blocking: call off
    /// the event loop. The sandbox is usable once `waitReady` returns.
    /// SANDBOX_INIT_TRACE set for the host: the helper prints its stage timings on our stderr.
    private static let tracing = getenv("SANDBOX_INIT_TRACE") != nil

    static func launch(sandboxID: String, helper: String, arguments: [String], poller: EventPoller) throws -> SandboxProcess {
        var pair: [Int32] = [-1, -1]
        try syscallChecked("socketpair") { socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) }
        defer { close(pair[1]) }
        let flags = fcntl(pair[0], F_GETFL)
        _ = fcntl(pair[0], F_SETFL, flags | O_NONBLOCK)

        let argv = ([helper] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp: [UnsafeMutablePointer<CChar>?] =
            [strdup("PATH=/usr/sbin:/usr/bin:/sbin:/bin")] + (Self.tracing ? [strdup("SANDBOX_INIT_TRACE=1")] : []) + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = csb_spawn_helper(helper, argv, envp, pair[1], Self.tracing ? 2 : -1, &pid)
        guard rc == 0 else {
            close(pair[0])
            throw RuntimeFailure.system("posix_spawn \(helper)", rc)
        }
        let pidFD = csb_pidfd_open(pid)
        let process = SandboxProcess(sandboxID: sandboxID, outerPID: pid, controlFD: pair[0], pidFD: pidFD, poller: poller)
        try poller.register(pair[0]) { [process] _ in process.readControl() }
        if pidFD >= 0 {
            try poller.register(pidFD) { [process] _ in process.reapOuter() }
        }
        return process
    }

    private init(sandboxID: String, outerPID: pid_t, controlFD: Int32, pidFD: Int32, poller: EventPoller) {
        self.sandboxID = sandboxID
        self.outerPID = outerPID
        self.controlFD = controlFD
        self.pidFD = pidFD
        self.poller = poller
    }

    deinit {
        state.withLock { if $0.initPidFD >= 0 { close($0.initPidFD) } }
    }

    /// The host pid of the sandbox's PID 1, once known.
    var initPID: pid_t? { state.withLock { $0.initPID } }
    var isAlive: Bool { state.withLock { !$0.dead } }

    /// Waits until sandbox-init reports its setup done, or fails with the stage that failed.
    func waitReady(timeout: Duration = .seconds(30)) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await withCheckedThrowingContinuation { continuation in
                    let result: Result<Void, RuntimeFailure>? = self.state.withLock { state in
                        if let ready = state.ready { return ready }
                        state.readyWaiters.append(continuation)
                        return nil
                    }
                    if let result { continuation.resume(with: result.mapError { $0 as any Error }) }
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw RuntimeFailure.setup(stage: "timeout", errno: ETIMEDOUT)
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// Reserves the id of the next command (its cgroup is named after it before it starts).
    func nextCommandID() -> UInt32 {
        state.withLock { state in
            defer { state.nextCommand &+= 1 }
            return state.nextCommand
        }
    }

    /// Starts `command` under `/bin/sh -c` inside the sandbox. `stdout`/`stderr` are write ends the
    /// command gets; `cgroupFD` is the group's join file (`CgroupManager.joinFile`), which it
    /// writes `0` into before exec. Answers its pid inside.
    func spawn(
        id: UInt32, command: String, cwd: String, environment: [String], uid: UInt32, gid: UInt32,
        stdout: Int32, stderr: Int32, cgroupFD: Int32?
    ) async throws -> Int32 {
        let message = try Self.spawnMessage(CSB_MSG_SPAWN, id: id, uid: uid, gid: gid, strings: [cwd, command] + environment)
        return try await send(message, fds: [stdout, stderr] + (cgroupFD.map { [$0] } ?? []), id: id, parkedIn: \.spawns)
    }

    /// Starts `command` under `/bin/sh -c` on a new pseudo-terminal of the sandbox's own devpts,
    /// `size` (columns, rows) wide. Answers its pid inside and the terminal's master descriptor
    /// (the caller's to close). Its exit is reported as a command's (`waitExit(id:)`).
    func spawnTerminal(
        id: UInt32, command: String, cwd: String, environment: [String], uid: UInt32, gid: UInt32,
        size: (columns: Int, rows: Int), cgroupFD: Int32?
    ) async throws -> (pid: Int32, master: Int32) {
        let message = try Self.spawnMessage(
            CSB_MSG_SPAWN_PTY, id: id, uid: uid, gid: gid, strings: ["\(size.columns) \(size.rows)", cwd, command] + environment)
        return try await send(message, fds: cgroupFD.map { [$0] } ?? [], id: id, parkedIn: \.terminalSpawns)
    }

    /// A spawn request: the header, then each string NUL-terminated.
    private static func spawnMessage(_ type: csb_message_type, id: UInt32, uid: UInt32, gid: UInt32, strings: [String]) throws -> [UInt8] {
        var header = csb_header(type: UInt32(type.rawValue), id: id, value: Int32(bitPattern: uid), value2: Int32(bitPattern: gid))
        var message = withUnsafeBytes(of: &header) { Array($0) }
        for string in strings {
            message.append(contentsOf: string.utf8)
            message.append(0)
        }
        guard message.count <= Int(CSB_MAX_MESSAGE) else {
            throw RuntimeError(.payloadTooLarge, "command and environment are larger than \(CSB_MAX_MESSAGE) bytes")
        }
        return message
    }

    /// Sends `message` (and `fds`) to PID 1 and waits, parked under `id` in `parkedIn`, for its
    /// reply; a sandbox that stopped (before, or while sending) fails the wait at once.
    private func send<Reply: Sendable>(
        _ message: [UInt8], fds: [Int32], id: UInt32, parkedIn waiting: WritableKeyPath<State, [UInt32: CheckedContinuation<Reply, any Error>]>
    ) async throws -> Reply {
        try await withCheckedThrowingContinuation { continuation in
            let dead = state.withLock { state in
                if state.dead { return true }
                state[keyPath: waiting][id] = continuation
                return false
            }
            if dead {
                continuation.resume(throwing: RuntimeError(.sandboxUnavailable, "the sandbox stopped"))
                return
            }
            let rc = message.withUnsafeBytes { bytes in
                fds.withUnsafeBufferPointer { csb_send_message(controlFD, bytes.baseAddress, bytes.count, $0.baseAddress, Int32($0.count)) }
            }
            if rc != 0, let parked = state.withLock({ $0[keyPath: waiting].removeValue(forKey: id) }) {
                parked.resume(throwing: RuntimeError(.sandboxUnavailable, "the sandbox stopped", cause: RuntimeFailure.system("sendmsg", rc)))
            }
        }
    }

    /// Waits for a spawned command's wait status.
    func waitExit(id: UInt32) async -> Int32 {
        await withCheckedContinuation { continuation in
            let status: Int32? = state.withLock { state in
                if let status = state.exitStatuses.removeValue(forKey: id) { return status }
                if state.dead { return Self.killedStatus }
                state.exitWaiters[id] = continuation
                return nil
            }
            if let status { continuation.resume(returning: status) }
        }
    }

    /// Ends the sandbox: SIGKILL to its PID 1 (through its pidfd) ends every process in its PID
    /// namespace; the outer sandbox-init then reaps it and exits. Before PID 1 is known, the outer
    /// is killed instead (PID 1 follows through its parent-death signal); the outer is our child,
    /// so until we reap it its pid is its own. After that, nothing is signalled.
    func kill() {
        state.withLock { state in
            if state.initPidFD >= 0 {
                _ = csb_pidfd_send_signal(state.initPidFD, SIGKILL)
            } else if !state.reaped {
                if pidFD >= 0 { _ = csb_pidfd_send_signal(pidFD, SIGKILL) } else { _ = Glibc.kill(outerPID, SIGKILL) }
            }
        }
    }

    /// A new descriptor (close it) for PID 1's pidfd, which setns(2) takes for PID 1's namespaces
    /// (`CLONE_NEWNET`, Linux 5.8+); nil once the sandbox is gone.
    func duplicateInitPidFD() -> Int32? {
        state.withLock { state in
            guard state.initPidFD >= 0, !state.dead else { return nil }
            let fd = fcntl(state.initPidFD, F_DUPFD_CLOEXEC, 0)
            return fd >= 0 ? fd : nil
        }
    }

    /// Whether PID 1 is alive now (a pidfd answers for that very process, never a later one).
    /// Something read through `/proc/<initPID>` before this answers true was PID 1's.
    var initIsAlive: Bool {
        state.withLock { $0.initPidFD >= 0 && csb_pidfd_send_signal($0.initPidFD, 0) == 0 }
    }

    /// Waits until the sandbox-init process that the host spawned has exited and been reaped:
    /// by then its PID 1, and so every process of the sandbox, is gone.
    func waitReaped() async {
        await withCheckedContinuation { continuation in
            let reaped = state.withLock { state in
                if state.reaped { return true }
                state.reapWaiters.append(continuation)
                return false
            }
            if reaped { continuation.resume() }
        }
    }

    /// Waits until the sandbox's PID 1 is gone (the control socket closed).
    func waitDead() async {
        await withCheckedContinuation { continuation in
            let dead = state.withLock { state in
                if state.dead { return true }
                state.deathWaiters.append(continuation)
                return false
            }
            if dead { continuation.resume() }
        }
    }

    // MARK: - On the poller thread

    private func readControl() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            var fds = [Int32](repeating: -1, count: 16)
            var fdCount: Int32 = 0
            let n = buffer.withUnsafeMutableBytes { raw in
                fds.withUnsafeMutableBufferPointer { csb_receive_message(controlFD, raw.baseAddress, raw.count, $0.baseAddress, 16, &fdCount) }
            }
            if n == -Int(EAGAIN) { return }
            if n <= 0 {
                markDead()
                return
            }
            guard n >= MemoryLayout<csb_header>.size else {
                for index in 0..<Int(fdCount) { close(fds[index]) }
                continue
            }
            let header = buffer.withUnsafeBytes { $0.loadUnaligned(as: csb_header.self) }
            let payload = n > MemoryLayout<csb_header>.size
                ? String(decoding: buffer[MemoryLayout<csb_header>.size..<n].prefix { $0 != 0 }, as: UTF8.self) : ""
            // Only INIT_PID (PID 1's pidfd) and PTY_SPAWNED (a terminal's master) carry a
            // descriptor; any other is closed.
            var kept = -1
            if Int(header.type) == Int(CSB_MSG_INIT_PID.rawValue) || Int(header.type) == Int(CSB_MSG_PTY_SPAWNED.rawValue), fdCount > 0 {
                kept = 0
            }
            for index in 0..<Int(fdCount) where index != kept { close(fds[index]) }
            handle(header, payload: payload, fd: kept >= 0 ? fds[kept] : -1)
        }
    }

    private func handle(_ header: csb_header, payload: String, fd: Int32) {
        switch Int(header.type) {
        case Int(CSB_MSG_INIT_PID.rawValue):
            let unused: Int32 = state.withLock { state in
                guard state.initPID == nil, !state.reaped else { return fd }
                state.initPID = header.value
                state.initPidFD = fd
                return -1
            }
            if unused >= 0 { close(unused) }
        case Int(CSB_MSG_READY.rawValue):
            resolveReady(.success(()))
        case Int(CSB_MSG_SETUP_FAILED.rawValue):
            resolveReady(.failure(.setup(stage: payload, errno: header.value)))
        case Int(CSB_MSG_SPAWNED.rawValue):
            state.withLock { $0.spawns.removeValue(forKey: header.id) }?.resume(returning: header.value)
        case Int(CSB_MSG_PTY_SPAWNED.rawValue):
            guard fd >= 0, let waiter = state.withLock({ $0.terminalSpawns.removeValue(forKey: header.id) }) else {
                if fd >= 0 { close(fd) }
                return
            }
            waiter.resume(returning: (header.value, fd))
        case Int(CSB_MSG_SPAWN_FAILED.rawValue):
            let failure = RuntimeFailure.setup(stage: payload, errno: header.value)
            let message = payload == "chdir" ? "cwd does not exist in the sandbox" : "the command could not be started (\(payload))"
            let error = RuntimeError(payload == "chdir" ? .unprocessable : .internalError, message, cause: failure)
            let (spawn, terminal) = state.withLock { ($0.spawns.removeValue(forKey: header.id), $0.terminalSpawns.removeValue(forKey: header.id)) }
            spawn?.resume(throwing: error)
            terminal?.resume(throwing: error)
        case Int(CSB_MSG_EXITED.rawValue):
            let waiter: CheckedContinuation<Int32, Never>? = state.withLock { state in
                if let waiter = state.exitWaiters.removeValue(forKey: header.id) { return waiter }
                state.exitStatuses[header.id] = header.value
                return nil
            }
            waiter?.resume(returning: header.value)
        default:
            break
        }
    }

    private func resolveReady(_ result: Result<Void, RuntimeFailure>) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            if state.ready == nil { state.ready = result }
            defer { state.readyWaiters.removeAll() }
            return state.readyWaiters
        }
        for waiter in waiters { waiter.resume(with: result.mapError { $0 as any Error }) }
    }

    private func markDead() {
        poller.unregister(controlFD)
        close(controlFD)
        let (spawns, terminalSpawns, exits, deaths) = state.withLock { state in
            state.dead = true
            if state.ready == nil { state.ready = .failure(.setup(stage: "exited", errno: ECHILD)) }
            defer {
                state.spawns.removeAll()
                state.terminalSpawns.removeAll()
                state.exitWaiters.removeAll()
                state.deathWaiters.removeAll()
            }
            return (state.spawns, state.terminalSpawns, state.exitWaiters, state.deathWaiters)
        }
        resolveReady(.failure(.setup(stage: "exited", errno: ECHILD)))
        for (_, spawn) in spawns { spawn.resume(throwing: RuntimeError(.sandboxUnavailable, "the sandbox stopped")) }
        for (_, spawn) in terminalSpawns { spawn.resume(throwing: RuntimeError(.sandboxUnavailable, "the sandbox stopped")) }
        for (_, exit) in exits { exit.resume(returning: Self.killedStatus) }
        for death in deaths { death.resume() }
    }

    private func reapOuter() {
        var status: Int32 = 0
        guard waitpid(outerPID, &status, WNOHANG) == outerPID else { return }
        poller.unregister(pidFD)
        let waiters = state.withLock { state in
            // Closed under the lock `kill` signals under: it never uses a closed (or reused) fd.
            close(pidFD)
            if state.initPidFD >= 0 { close(state.initPidFD) }
            state.initPidFD = -1
            state.reaped = true
            defer { state.reapWaiters.removeAll() }
            return state.reapWaiters
        }
        waiters.forEach { $0.resume() }
    }
}
