import NIOCore
import Synchronization

/// Counts open connections per client address and refuses one beyond `maxPerAddress`.
/// Thread-safe: connections open and close on every event loop.
final class ConnectionAdmission: Sendable {
    let maxPerAddress: Int
    private let open = Mutex<[AddressKey: Int]>([:])

    /// One client for the cap: an IPv4 address, or an IPv6 /64 (a host is handed a whole /64,
    /// so counting single IPv6 addresses would cap nothing).
    struct AddressKey: Hashable, Sendable {
        let bytes: [UInt8]

        init?(_ address: SocketAddress?) {
            switch address {
            case .v4(let v4):
                bytes = withUnsafeBytes(of: v4.address.sin_addr) { Array($0) }
            case .v6(let v6):
                let raw = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
                let mapped = raw[0..<10].allSatisfy { $0 == 0 } && raw[10] == 0xff && raw[11] == 0xff
                bytes = mapped ? Array(raw[12..<16]) : Array(raw[0..<8])
            default:
                return nil  // a Unix socket: no address to count by
            }
        }
    }

    init(maxPerAddress: Int) {
        self.maxPerAddress = maxPerAddress
    }

    /// Takes a place for `key`; false when its cap is reached (nothing taken then).
    func admit(_ key: AddressKey) -> Bool {
        guard maxPerAddress > 0 else { return true }
        return open.withLock { counts in
            let count = counts[key, default: 0]
            guard count < maxPerAddress else { return false }
            counts[key] = count + 1
            return true
        }
    }

    /// Gives back the place `admit` took.
    func release(_ key: AddressKey) {
        guard maxPerAddress > 0 else { return }
        open.withLock { counts in
            let count = counts[key, default: 1] - 1
            counts[key] = count > 0 ? count : nil
        }
    }

    /// Open connections counted for `key` (tests, logs).
    func count(_ key: AddressKey) -> Int { open.withLock { $0[key, default: 0] } }
}
