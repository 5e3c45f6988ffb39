import CSandbox
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A process on a pseudo-terminal inside a sandbox, as the host holds it: the terminal's master.
///
/// Output is read on the `EventPoller` (non-blocking, at most `readChunk` bytes a wake-up) and handed
/// to `output` on the poller's thread, which must not block. `pauseOutput` takes the master off
/// the poller until `resumeOutput` (the process then blocks on its full terminal, no host thread
/// does): back-pressure from whoever reads the output. Input waits in a queue of `inputCap`
/// bytes, written on the poller when the master has room; `write` suspends while the queue is
/// full. The master's descriptors are read, written and closed under one lock, so nothing ever
/// uses a closed (or reused) descriptor. Thread-safe.
public final class Terminal: Sendable {
    /// Output as it arrives, on the poller's thread.
    public typealias Output = @Sendable ([UInt8]) -> Void

    public let sandboxID: String
    /// The process's pid inside the sandbox.
    public let pid: Int32
    /// Its command number (its cgroup's name).
    let commandID: UInt32
    private let readFD: Int32
    /// A duplicate of the master, watched for room (EPOLLOUT) only while input waits: one
    /// descriptor cannot be in the epoll set twice.
    private let writeFD: Int32
    private let poller: EventPoller
    private let output: Output
    private let killGroup: @Sendable () async -> Void
    private let state: Mutex<State>

    /// Input queued for the terminal at most; a writer past it waits.
    static let inputCap = 64 << 10
    /// Bytes read from the master at once.
    static let readChunk = 16 << 10

    private struct State {
        var readOpen = true
        var held = false
        var writeOpen = true
        var writeArmed = false
        var input: [UInt8] = []
        var roomWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
        var outputClosedWaiters: [CheckedContinuation<Void, Never>] = []
        var size: TerminalSize
        var exitCode: Int?
        var exitWaiters: [CheckedContinuation<Int, Never>] = []
    }

    /// Takes `master` (non-blocking from here on) and starts reading it.
    init(
        sandboxID: String, pid: Int32, commandID: UInt32, master: Int32, size: TerminalSize, poller: EventPoller,
        output: @escaping Output, killGroup: @escaping @Sendable () async -> Void
    ) throws {
        let duplicate = try syscallChecked("fcntl") { fcntl(master, F_DUPFD_CLOEXEC, 0) }
        // One open file: O_NONBLOCK on either descriptor is on both.
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
        self.sandboxID = sandboxID
        self.pid = pid
        self.commandID = commandID
        self.readFD = master
        self.writeFD = duplicate
        self.poller = poller
        self.output = output
        self.killGroup = killGroup
        self.state = Mutex(State(size: size))
        do {
            try poller.register(master) { [self] _ in self.readOutput() }
        } catch {
            Glibc.close(duplicate)
            throw error
        }
    }

    public var size: TerminalSize { state.withLock { $0.size } }
    /// Whether the process still runs (its exit not yet reported).
    public var isRunning: Bool { state.withLock { $0.exitCode == nil } }

    /// Queues `bytes` as keyboard input; suspends while the queue is full. False once the
    /// terminal is closed, or the caller was cancelled while waiting (the bytes not taken are
    /// dropped).
    @discardableResult
    public func write(_ bytes: [UInt8]) async -> Bool {
        var offset = 0
        while offset < bytes.count {
            enum Step { case closed, full, queued(arm: Bool) }
            let step: Step = state.withLock { state in
                guard state.writeOpen else { return .closed }
                let room = Self.inputCap - state.input.count
                guard room > 0 else { return .full }
                let take = min(room, bytes.count - offset)
                state.input.append(contentsOf: bytes[offset..<(offset + take)])
                offset += take
                defer { state.writeArmed = true }
                return .queued(arm: !state.writeArmed)
            }
            switch step {
            case .closed:
                return false
            case .queued(let arm):
                if arm { armWriter() }
            case .full:
                let key = state.withLock { state in
                    defer { state.nextWaiter += 1 }
                    return state.nextWaiter
                }
                await withTaskCancellationHandler {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        let wait = state.withLock { state in
                            guard state.writeOpen, state.input.count >= Self.inputCap, !Task.isCancelled else { return false }
                            state.roomWaiters[key] = continuation
                            return true
                        }
                        if !wait { continuation.resume() }
                    }
                } onCancel: {
                    state.withLock { $0.roomWaiters.removeValue(forKey: key) }?.resume()
                }
                if Task.isCancelled { return false }
            }
        }
        return true
    }

    /// Sets the window's size (the foreground process group gets SIGWINCH). TIOCSWINSZ on a
    /// master never waits for I/O (it takes the tty's own short lock), so it runs here, under
    /// the state's lock, not on a borrowed `DedicatedThread`: a flood of resize frames must not
    /// hold the threads every tenant's starts and writes need.
    public func resize(_ size: TerminalSize) async throws {
        let code: Int32 = state.withLock { state in
            guard state.writeOpen else { return 0 }
            state.size = size
            return csb_set_window_size(writeFD, UInt16(clamping: size.columns), UInt16(clamping: size.rows))
        }
        if code != 0 { throw RuntimeError.internalError("cannot resize the terminal", cause: RuntimeFailure.system("TIOCSWINSZ", code)) }
    }

    /// Stops reading output until `resumeOutput`: the process blocks once the terminal's buffer
    /// is full. Any thread, the output handler's included.
    public func pauseOutput() {
        state.withLock { state in
            guard state.readOpen, !state.held else { return }
            state.held = true
            poller.hold(readFD)
        }
    }

    public func resumeOutput() {
        state.withLock { state in
            guard state.readOpen, state.held else { return }
            state.held = false
            poller.release(readFD)
        }
    }

    /// Kills the process and everything it started (its cgroup), detached ones included.
    public func kill() async {
        await killGroup()
    }

    /// The process's exit code (128 + signal when killed), once it has exited and its output
    /// has been read.
    public func waitExit() async -> Int {
        await withCheckedContinuation { continuation in
            let code: Int? = state.withLock { state in
                if let code = state.exitCode { return code }
                state.exitWaiters.append(continuation)
                return nil
            }
            if let code { continuation.resume(returning: code) }
        }
    }

    /// After the process exited: waits (up to `grace`: a background process may hold the
    /// terminal open) for the output to end, then closes the master and reports `exitCode`.
    func finish(exitCode: Int, grace: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let open = self.state.withLock { state in
                        guard state.readOpen, !state.held else { return false }
                        state.outputClosedWaiters.append(continuation)
                        return true
                    }
                    if !open { continuation.resume() }
                }
            }
            group.addTask { try? await Task.sleep(for: grace) }
            await group.next()
            // Resumes the output waiter if it is still waiting; the sleeper ends on cancel.
            self.close(exitCode: exitCode)
            group.cancelAll()
        }
    }

    private func close(exitCode: Int) {
        let (rooms, closed, exits) = state.withLock { state in
            closeRead(&state)
            if state.writeOpen {
                poller.unregister(writeFD)
                Glibc.close(writeFD)
                state.writeOpen = false
            }
            state.input.removeAll()
            state.exitCode = exitCode
            defer {
                state.roomWaiters.removeAll()
                state.outputClosedWaiters.removeAll()
                state.exitWaiters.removeAll()
            }
            return (Array(state.roomWaiters.values), state.outputClosedWaiters, state.exitWaiters)
        }
        rooms.forEach { $0.resume() }
        closed.forEach { $0.resume() }
        exits.forEach { $0.resume(returning: exitCode) }
    }

    // MARK: - On the poller thread

    private func readOutput() {
        // A terminal's reads return at most a line discipline's buffer (4 KiB): up to four per
        // wake-up, handed on as one chunk (one hand-off, one frame for a client that keeps up);
        // level-triggered, so the rest comes next round.
        var buffer = [UInt8](repeating: 0, count: Self.readChunk)
        var filled = 0
        var ended = false
        for _ in 0..<4 where filled < buffer.count {
            let n: Int? = state.withLock { state in
                guard state.readOpen, !state.held else { return nil }
                let n = buffer.withUnsafeMutableBytes { Glibc.read(readFD, $0.baseAddress! + filled, $0.count - filled) }
                if n > 0 { return n }
                if n < 0, errno == EAGAIN || errno == EINTR { return nil }
                return 0  // 0, or EIO: no slave descriptor is open any more
            }
            guard let n else { break }
            if n == 0 {
                ended = true
                break
            }
            filled += n
        }
        if filled > 0 { output(Array(buffer[0..<filled])) }
        guard ended else { return }
        let waiters = state.withLock { state in
            closeRead(&state)
            defer { state.outputClosedWaiters.removeAll() }
            return state.outputClosedWaiters
        }
        waiters.forEach { $0.resume() }
    }

    private func closeRead(_ state: inout State) {
        guard state.readOpen else { return }
        poller.unregister(readFD)
        Glibc.close(readFD)
        state.readOpen = false
        state.held = false
    }

    private func armWriter() {
        do {
            try poller.register(writeFD, events: EPOLLOUT.rawValue | EPOLLONESHOT.rawValue) { [self] _ in self.flushInput() }
        } catch {
            // Not watched: write now what fits; the rest waits for the next write's arming.
            flushInput()
        }
    }

    private func flushInput() {
        enum After { case idle, rearm }
        poller.unregister(writeFD)  // a one-shot registration is added afresh each time
        let (after, rooms): (After, [CheckedContinuation<Void, Never>]) = state.withLock { state in
            guard state.writeOpen else { return (.idle, []) }
            while !state.input.isEmpty {
                let n = state.input.withUnsafeBytes { Glibc.write(writeFD, $0.baseAddress, $0.count) }
                if n > 0 {
                    state.input.removeFirst(n)
                } else if n < 0, errno == EINTR {
                    continue
                } else if n < 0, errno == EAGAIN {
                    break
                } else {
                    state.input.removeAll()  // the terminal is gone: nothing will read it
                }
            }
            var rooms: [CheckedContinuation<Void, Never>] = []
            if state.input.count < Self.inputCap / 2 {
                rooms = Array(state.roomWaiters.values)
                state.roomWaiters.removeAll()
            }
            state.writeArmed = !state.input.isEmpty
            return (state.input.isEmpty ? .idle : .rearm, rooms)
        }
        rooms.forEach { $0.resume() }
        if after == .rearm { armWriter() }
    }
}
