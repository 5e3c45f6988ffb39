import CSandbox
import Glibc
import SandboxRuntime

/// Ends a sandbox's tracked flows (the kernel's conntrack entries) with the `conntrack` tool,
/// spawned with a deadline. The filter already checks every packet of a flow against the policy
/// in force, so this only makes the cut prompt both ways: once the entry is gone, the far end's
/// next packet is no longer translated back to the sandbox and the host answers it with a reset.
/// Only on a policy change and a removal, never on a sandbox's start (a spawn costs ~ms).
/// Blocking: run it off the cooperative pool, in the namespace the filter works in.
struct ConntrackCut: Sendable {
    /// How long one `conntrack` run may take before it is killed.
    var deadlineMilliseconds = 2_000
    /// Destinations cut one by one at most per call; flows to the rest end by the rules alone.
    var maxDestinations = 64
    /// false: every cut does nothing (tests of what the rules alone hold when a cut fails).
    var isEnabled = true
    /// What a listing may print at most (one line per flow).
    static let maxOutput = 4 << 20

    static let candidates = ["/usr/sbin/conntrack", "/sbin/conntrack", "/usr/bin/conntrack"]

    /// Every flow `source` started goes.
    func cutAll(from source: String) throws {
        _ = try run(["-D", "-f", "ipv4", "-s", source], keepOutput: false)
    }

    /// The flows `source` started toward a destination `isRefused` says the policy refuses go.
    func cut(from source: String, where isRefused: ([UInt8]) -> Bool) throws {
        let listing = try run(["-L", "-f", "ipv4", "-s", source])
        var refused: [String] = []
        for destination in Self.destinations(in: listing) where !refused.contains(destination) {
            guard let bytes = Self.bytes(destination), isRefused(bytes) else { continue }
            refused.append(destination)
            if refused.count == maxDestinations { break }
        }
        for destination in refused {
            _ = try run(["-D", "-f", "ipv4", "-s", source, "-d", destination], keepOutput: false)
        }
    }

    /// The original direction's `dst=` of each line of `conntrack -L`.
    static func destinations(in listing: String) -> [String] {
        listing.split(separator: "\n").compactMap { line in
            guard let field = line.split(separator: " ").first(where: { $0.hasPrefix("dst=") }) else { return nil }
            return String(field.dropFirst(4))
        }
    }

    static func bytes(_ address: String) -> [UInt8]? {
        let parts = address.split(separator: ".").compactMap { UInt8($0) }
        return parts.count == 4 ? parts : nil
    }

    /// Runs conntrack, answers its standard output (with `keepOutput`; else it goes to
    /// /dev/null: a deletion prints every entry it deleted); exit 0 or 1 (nothing matched) is fine.
    private func run(_ arguments: [String], keepOutput: Bool = true) throws -> String {
        guard isEnabled else { return "" }
        guard let path = Self.candidates.first(where: { access($0, X_OK) == 0 }) else {
            throw NetworkError("conntrack is not installed")
        }
        var pipeFDs: [Int32] = [-1, -1]
        guard csb_pipe(&pipeFDs) == 0 else {
            throw NetworkError.system("conntrack: pipe", errno)
        }
        let (readEnd, writeEnd) = (pipeFDs[0], pipeFDs[1])
        defer { close(readEnd) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if keepOutput {
            posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let environment: [UnsafeMutablePointer<CChar>?] = [strdup("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), nil]
        defer { environment.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, environment)
        close(writeEnd)
        guard spawned == 0 else {
            throw NetworkError.system("posix_spawn conntrack", spawned)
        }
        let deadline = MonotonicClock.seconds() + Double(deadlineMilliseconds) / 1_000
        let output = readUntilClosed(readEnd, deadline: deadline)
        let status = reap(pid, deadline: deadline)
        guard let status else {
            throw NetworkError("conntrack \(arguments.joined(separator: " ")) did not end within \(deadlineMilliseconds) ms")
        }
        guard status == 0 || status == 1 else {
            throw NetworkError("conntrack \(arguments.joined(separator: " ")) exited \(status)")
        }
        return output
    }

    private func readUntilClosed(_ fd: Int32, deadline: Double) -> String {
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while output.count < Self.maxOutput {
            let left = deadline - MonotonicClock.seconds()
            guard left > 0 else { break }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min(1_000, left * 1_000 + 1)))
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            output += buffer[..<count]
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The exit status, or nil if it had to be killed at the deadline.
    private func reap(_ pid: pid_t, deadline: Double) -> Int32? {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f) }
            if result < 0 && errno != EINTR { return nil }
            if MonotonicClock.seconds() >= deadline {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                return nil
            }
            usleep(1_000)
        }
    }
}
