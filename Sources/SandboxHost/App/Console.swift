#if canImport(Glibc)
import Glibc
#endif

/// Lines for a person at the terminal, written straight to fd 1 so they appear at once even
/// when stdout is a pipe (tests and `make run | tee` read them while the host runs).
enum Console {
    static func line(_ text: String) {
        let bytes = Array((text + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}
