#if canImport(Glibc)
import Glibc
#endif

/// Why a runtime step failed: which system call or sandbox setup stage, with errno.
///
/// Carried as a `RuntimeError`'s cause; shown to clients only through a message that names no host path.
public enum RuntimeFailure: Error, CustomStringConvertible, Sendable {
    case system(String, Int32)
    case setup(stage: String, errno: Int32)
    case protocolViolation(String)

    public var description: String {
        switch self {
        case .system(let call, let code): "\(call): \(String(cString: strerror(code))) (errno \(code))"
        case .setup(let stage, let code): "sandbox setup failed at \(stage): \(String(cString: strerror(code))) (errno \(code))"
        case .protocolViolation(let what): "sandbox protocol: \(what)"
        }
    }
}

/// Retries a system call on EINTR and turns -1 into a `RuntimeFailure` naming the call.
@discardableResult
func syscallChecked<T: BinaryInteger>(_ name: String, _ body: () -> T) throws -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = errno
        if code == EINTR { continue }
        throw RuntimeFailure.system(name, code)
    }
}
