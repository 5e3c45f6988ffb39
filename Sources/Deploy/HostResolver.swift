import Foundation
import Glibc
import Synchronization

/// Name resolution for remote checks: `getaddrinfo` on a thread of its own, waited for with a
/// deadline (the caller is on a thread of its own too, never the shared pools). A lookup that
/// outlives the deadline is abandoned; its thread ends when the resolver's own timeouts do, and
/// until then counts against `maxInFlight`, so slow names cannot pile up threads.
enum HostResolver {
    static let maxInFlight = 16
    private static let inFlight = Atomic<Int>(0)

    static func resolve(_ host: String, _ timeout: Duration) throws -> [IPAddress] {
        guard inFlight.add(1, ordering: .relaxed).newValue <= maxInFlight else {
            inFlight.subtract(1, ordering: .relaxed)
            var error = DeployError("the host is resolving too many remotes at once; try again shortly")
            error.isBusy = true
            throw error
        }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        Thread {
            box.result = lookup(host)
            inFlight.subtract(1, ordering: .relaxed)
            done.signal()
        }.start()
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        guard done.wait(timeout: .now() + seconds) == .success else {
            throw DeployError("resolving remote_url's host \(host) took longer than \(timeout)")
        }
        switch box.result {
        case .success(let addresses) where !addresses.isEmpty: return addresses
        case .failure(let error): throw error
        default: throw DeployError("remote_url's host \(host) does not resolve")
        }
    }

    private static func lookup(_ host: String) -> Result<[IPAddress], DeployError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0 else {
            return .failure(DeployError("remote_url's host \(host) does not resolve (\(String(cString: gai_strerror(status))))"))
        }
        defer { freeaddrinfo(list) }
        var addresses: [IPAddress] = []
        var entry = list
        while let current = entry?.pointee {
            if let socket = current.ai_addr, let address = Self.address(socket) { addresses.append(address) }
            entry = current.ai_next
        }
        return .success(addresses)
    }

    /// The address in a `sockaddr_in` or `sockaddr_in6`.
    static func address(_ socket: UnsafePointer<sockaddr>) -> IPAddress? {
        switch Int32(socket.pointee.sa_family) {
        case AF_INET:
            return socket.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                var value = pointer.pointee.sin_addr
                return IPAddress(bytes: withUnsafeBytes(of: &value) { Array($0) })
            }
        case AF_INET6:
            return socket.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                var value = pointer.pointee.sin6_addr
                return IPAddress(bytes: withUnsafeBytes(of: &value) { Array($0) })
            }
        default:
            return nil
        }
    }

    /// Every address on this host's interfaces, read now (addresses come and go).
    static func ownAddresses() -> Set<IPAddress> {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return [] }
        defer { freeifaddrs(list) }
        var result: Set<IPAddress> = []
        var entry = list
        while let current = entry?.pointee {
            if let socket = current.ifa_addr, let address = Self.address(socket) { result.insert(address) }
            entry = current.ifa_next
        }
        return result
    }

    /// Written by the lookup thread before it signals, read after the wait.
    private final class Box: @unchecked Sendable {
        var result: Result<[IPAddress], DeployError> = .success([])
    }
}
