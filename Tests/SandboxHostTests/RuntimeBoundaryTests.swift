import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization
import Testing
@testable import SandboxHost
@testable import SandboxRuntime

/// The seam between the host and its runtime: errors keep their status and message across it,
/// cgroup names stay what older hosts made, and the runtime stays free of HTTP and SQLite.
@Suite struct RuntimeBoundaryTests {
    @Test(arguments: [
        (RuntimeError.Code.notFound, 404, "NOT_FOUND"),
        (.unprocessable, 422, "VALIDATION_ERROR"),
        (.conflict, 409, "CONFLICT"),
        (.payloadTooLarge, 413, "PAYLOAD_TOO_LARGE"),
        (.sandboxUnavailable, 503, "SANDBOX_UNAVAILABLE"),
        (.gatewayTimeout, 504, "SANDBOX_UNAVAILABLE"),
    ])
    func runtimeErrorsReachClientsWithTheirStatusAndMessage(_ code: RuntimeError.Code, _ status: Int, _ apiCode: String) async throws {
        let response = ErrorMiddleware.response(for: RuntimeError(code, "the sandbox said so"), logger: Logger(label: "test"))
        #expect(response.status.code == status)
        let body = try #require(try await Self.body(response))
        #expect(body["code"] == apiCode)
        #expect(body["detail"] == "the sandbox said so")
    }

    @Test func aRuntimeInternalErrorIsAPlain500() async throws {
        let error = RuntimeError.internalError("cannot create pipes under /srv/data", cause: RuntimeFailure.system("pipe2", EMFILE))
        let response = ErrorMiddleware.response(for: error, logger: Logger(label: "test"))
        #expect(response.status.code == 500)
        let body = try #require(try await Self.body(response))
        #expect(body == ["code": "INTERNAL_ERROR", "detail": "internal error"])
    }

    @Test func typedHeadersBecomeResponseHeaders() {
        let limited = ErrorMiddleware.response(for: HostError(.rateLimited, "slow down", retryAfterSeconds: 7), logger: Logger(label: "test"))
        #expect(limited.status.code == 429)
        #expect(limited.headers[.retryAfter] == "7")
        #expect(limited.headers[.wwwAuthenticate] == nil)
        let challenged = ErrorMiddleware.response(for: HostError(.unauthorized, "key?", bearerChallenge: true), logger: Logger(label: "test"))
        #expect(challenged.status.code == 401)
        #expect(challenged.headers[.wwwAuthenticate] == "Bearer")
        #expect(challenged.headers[.retryAfter] == nil)
    }

    /// The sweep finds a killed host's cgroups by this key: it must not change between versions.
    @Test func instanceKeyIsTheDataDirectorysHashAsBefore() {
        #expect(SandboxRuntime.instanceKey("/var/lib/sandbox-host") == "43ecd1ec9b30")
        #expect(SandboxRuntime.instanceKey("/var/lib/../lib/sandbox-host/") == "43ecd1ec9b30")
        let dataDir = "/tmp/some-data-dir"
        let before = APIKey.hash(dataDir).prefix(6).map { String(format: "%02x", $0) }.joined()
        #expect(SandboxRuntime.instanceKey(dataDir) == before)
    }

    @Test func theRuntimeImportsNoHTTPAndNoStore() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/SandboxRuntime")
        let files = try FileManager.default.contentsOfDirectory(atPath: sources.path).filter { $0.hasSuffix(".swift") }
        #expect(!files.isEmpty)
        for file in files {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            for module in ["Hummingbird", "HTTPTypes", "NIOHTTP1", "CSQLite", "SandboxHost"] {
                #expect(!text.contains("import \(module)\n"), "\(file) imports \(module)")
            }
        }
    }

    /// The error body's fields, written out as the server would.
    private static func body(_ response: Response) async throws -> [String: String]? {
        let sink = BodySink()
        try await response.body.write(sink)
        return try JSONSerialization.jsonObject(with: Data(sink.bytes.withLock { $0 })) as? [String: String]
    }
}

private final class BodySink: ResponseBodyWriter, Sendable {
    let bytes = Mutex<[UInt8]>([])
    func write(_ buffer: ByteBuffer) async throws { bytes.withLock { $0 += Array(buffer.readableBytesView) } }
    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
