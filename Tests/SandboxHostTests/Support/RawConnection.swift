import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A bare TCP connection to the host on 127.0.0.1, for tests about connections themselves
/// (silent clients, half-sent heads, caps): HTTP clients would hide what the server does.
/// Not thread-safe; one test task uses it.
final class RawConnection: @unchecked Sendable {
    let fd: Int32

    /// Connects (blocking: the loopback answers at once, and the kernel completes the handshake
    /// whether or not the server accepts yet).
    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HostProcessError("socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7f00_0001).bigEndian)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let code = errno
            close(fd)
            throw HostProcessError("connect: errno \(code)")
        }
    }

    deinit { close(fd) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw HostProcessError("send: errno \(errno)") }
            sent += count
        }
    }

    /// Reads until the server closes (answers true) or `timeout` passes with the connection
    /// still open (false). What arrives meanwhile is appended to `received`.
    func waitClosed(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var buffer = [UInt8](repeating: 0, count: 65536)
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count == 0 { return true }
            if count < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                    try? await Task.sleep(for: .milliseconds(20))
                    continue
                }
                return true  // ECONNRESET and friends: closed by the server
            }
            received += String(decoding: buffer[..<count], as: UTF8.self)
        }
        return false
    }

    /// Everything read so far.
    private(set) var received = ""
}
