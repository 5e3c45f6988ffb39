import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// The real `sandbox-host` binary, run as a child process on a free port.
final class HostProcess: Sendable {
    let process: Process
    let dataDir: String
    let port: Int
    private let output = Locked("")
    /// Set by `stop`: an exit without it is unexpected, and its output is printed (a host that
    /// died under a test says why: a crash's message and thread, in the test's own log).
    private let stopping = Locked(false)

    var baseURL: String { "http://127.0.0.1:\(port)" }
    /// Everything the host wrote to stdout and stderr so far.
    var log: String { output.value }

    static var binary: String {
        if let override = ProcessInfo.processInfo.environment["SANDBOX_HOST_BINARY"] { return override }
        let testBundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return testBundle.appendingPathComponent("sandbox-host").path
    }

    /// Starts `sandbox-host serve` and waits until it says where it listens.
    init(dataDir: String, environment: [String: String] = [:]) async throws {
        self.dataDir = dataDir
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            throw HostProcessError("no sandbox-host binary at \(Self.binary): run `swift build` first (make test does)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["serve", "--port", "0", "--data-dir", dataDir]
        // Networking off unless the test's environment turns it on (as `TestHost` does).
        process.environment = ProcessInfo.processInfo.environment.merging(["SANDBOX_HOST_NETWORK": "off"]) { $1 }
            .merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let output = self.output
        // At the end of the output (the host exited) the handler is removed: left in place, its
        // dispatch source fires without end on the closed pipe, and once the handle is released
        // the source outlives its descriptor (a SIGSEGV in libdispatch's event loop, seen in a
        // heavy run here).
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            guard !data.isEmpty else {
                handle.readabilityHandler = nil
                return
            }
            output.mutate { $0 += String(decoding: data, as: UTF8.self) }
        }
        let stopping = self.stopping
        process.terminationHandler = { ended in
            guard !stopping.value else { return }
            let reason = ended.terminationReason == .uncaughtSignal ? "signal" : "status"
            print("sandbox-host \(ended.processIdentifier) exited unexpectedly (\(reason) \(ended.terminationStatus)); its last output:\n"
                + String(output.value.suffix(8000)))
        }
        try process.run()
        self.process = process

        let deadline = ContinuousClock.now + .seconds(20)
        var found: Int?
        while found == nil, ContinuousClock.now < deadline, process.isRunning {
            try await Task.sleep(for: .milliseconds(20))
            let text = output.value
            // `listening on http://ADDRESS:PORT` (ADDRESS: 127.0.0.1 unless SANDBOX_HOST_HOST says otherwise).
            if let range = text.range(of: "listening on http://"),
               let colon = text[range.upperBound...].prefix(while: { $0 != "\n" }).lastIndex(of: ":") {
                found = Int(text[text.index(after: colon)...].prefix { $0.isNumber })
            }
        }
        guard let found else {
            stopping.mutate { $0 = true }
            process.terminate()
            throw HostProcessError("host did not start: \(output.value)")
        }
        self.port = found
    }

    /// Sends `signal` and waits for the process to end; answers its exit status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(10)) async throws -> Int32 {
        stopping.mutate { $0 = true }
        kill(process.processIdentifier, signal)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        guard !process.isRunning else {
            kill(process.processIdentifier, SIGKILL)
            throw HostProcessError("host did not stop within \(timeout) after signal \(signal)")
        }
        return process.terminationStatus
    }

    /// One request; answers status and body.
    func request(
        _ method: HTTPMethod, _ path: String, key: String?, body: String? = nil
    ) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let key { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return (Int(response.status.code), String(buffer: bytes))
    }

    /// A GET whose answer may be up to `limit` bytes and take up to `timeout`; answers status and body.
    func get(_ path: String, key: String?, upTo limit: Int, timeout: Duration) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: baseURL + path)
        if let key { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        let response = try await HTTPClient.shared.execute(request, timeout: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000))
        let bytes = try await response.body.collect(upTo: limit)
        return (Int(response.status.code), String(buffer: bytes))
    }

    /// One request with a raw body; answers status and body.
    func requestBytes(_ method: HTTPMethod, _ path: String, key: String?, body: [UInt8]) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let key { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return (Int(response.status.code), String(buffer: bytes))
    }

    /// The admin key the host wrote on first start.
    var adminKey: String {
        get throws { try String(contentsOfFile: dataDir + "/admin.key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// Creates a project and activates its sandbox over HTTP; answers (project id, sandbox id).
    func createSandbox(key: String, name: String = "p") async throws -> (project: String, sandbox: String) {
        let created = try await request(.POST, "/api/projects", key: key, body: #"{"name":"\#(name)"}"#)
        let project = try #require((try JSONSerialization.jsonObject(with: Data(created.body.utf8)) as? [String: Any])?["project_id"] as? String, "\(created.body)")
        let activated = try await request(.POST, "/api/project/\(project)/sandbox/ensure-active", key: key)
        let sandbox = try #require((try JSONSerialization.jsonObject(with: Data(activated.body.utf8)) as? [String: Any])?["sandbox_id"] as? String, "\(activated.body)")
        return (project, sandbox)
    }

    /// Runs the binary with `arguments` (a CLI command) and answers its exit status and output.
    static func command(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let (status, data) = try Subprocess.run(binary, arguments)
        return (status, String(decoding: data, as: UTF8.self))
    }
}

struct HostProcessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A value shared between tasks and callbacks, behind a lock.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    var value: Value { mutex.withLock { $0 } }
    func mutate<T: Sendable>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
}
