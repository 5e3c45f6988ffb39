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
    /// Blocking: call it on the thread pool.
    nonisolated static func connectInside(initPID: Int32, port: Int) throws -> Int32 {
        let namespace = open("/proc/\(initPID)/ns/net", O_RDONLY | O_CLOEXEC)
        guard namespace >= 0 else { throw HostError(.sandboxUnavailable, "the sandbox is not running") }
        defer { close(namespace) }
        for family in [AF_INET, AF_INET6] {
            let fd = csb_socket_in_netns(namespace, family)
            guard fd >= 0 else { throw HostError.internalError("cannot make a socket in the sandbox", cause: POSIXError(errnoCode: errno)) }
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
            if result == 0 { return fd }
            close(fd)
        }
        throw HostError(.sandboxUnavailable, "nothing listens on port \(port) in the sandbox")
    }
}
