import CSandbox
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension SandboxRuntime {
    /// TCP ports something listens on inside the sandbox (its own network namespace, IPv4 and
    /// IPv6); empty when it is not running.
    public func listeningPorts(_ sandboxID: String) -> Set<Int> {
        guard let process = runningProcess(sandboxID), let pid = process.initPID else { return [] }
        let ports = ListeningPorts.read(pid: pid)
        // PID 1 alive after the read: the pid was its own throughout, not a reused one.
        return process.initIsAlive ? ports : []
    }

    /// A connected socket to `port` on the sandbox's own loopback: 127.0.0.1 first, then ::1 (a
    /// server bound to `localhost` may have taken either). The socket is made inside the
    /// sandbox's network namespace, so nothing but that sandbox's loopback can be reached.
    ///
    /// Holds no thread while it waits: the socket is made non-blocking (the calling thread
    /// enters the namespace for the one `socket(2)` call and comes back, or the process aborts;
    /// nothing there waits), the connect is started, and `ConnectWait` waits for it on the event
    /// poller. Both families share one deadline, `timeout`: past it, `RuntimeError.gatewayTimeout`
    /// (504). Nothing listening is `sandboxUnavailable` (503), at once.
    ///
    /// `initProcess` is a pidfd of the sandbox's PID 1 (`initProcessDescriptor`, the caller
    /// closes it): `setns` through it enters that very process's namespace, where a pid number
    /// could by then name another process.
    public nonisolated static func connectInside(initProcess: Int32, port: Int, timeout: Duration) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        for family in [AF_INET, AF_INET6] {
            let fd = csb_socket_in_netns(initProcess, family)
            if fd < 0 && errno == ESRCH { throw RuntimeError(.sandboxUnavailable, "the sandbox is not running") }
            guard fd >= 0 else { throw RuntimeError.internalError("cannot make a socket in the sandbox", cause: RuntimeFailure.system("socket in netns", errno)) }
            var code = startConnect(fd, family: family, port: port)
            if code == EINPROGRESS || code == EINTR {  // EINTR: the handshake goes on regardless
                do {
                    code = try await ConnectWait.finish(fd, deadline: deadline, port: port)
                } catch {
                    close(fd)
                    throw error
                }
            }
            if code == 0 { return fd }
            close(fd)
        }
        throw RuntimeError(.sandboxUnavailable, "nothing listens on port \(port) in the sandbox")
    }

    /// Starts connecting the non-blocking `fd` to the loopback of its namespace: 0 when connected
    /// at once, `EINPROGRESS` while the handshake goes on, else the failure's errno.
    private nonisolated static func startConnect(_ fd: Int32, family: Int32, port: Int) -> Int32 {
        var result: Int32
        if family == AF_INET {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = in_addr_t(UInt32(0x7f00_0001).bigEndian)
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        } else {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            address.sin6_addr = in6addr_loopback
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
        return result == 0 ? 0 : errno
    }
}
