import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost

/// The file routes of one sandbox, for tests.
struct FileClient {
    let client: any TestClientProtocol
    let key: String
    let sandbox: String

    var base: String { "/api/sandboxes/\(sandbox)" }

    /// The workspace directory on the host.
    func workspace(_ host: TestHost) async throws -> String {
        let projectID = try await client.execute(uri: base, method: .get, headers: .bearer(key)) { response in
            try #require(response.json["project_id"] as? String)
        }
        return host.services.workspaces.path(projectID: projectID)
    }

    static func query(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value
    }

    func put(_ path: String, _ content: String) async throws -> HTTPResponse.Status {
        try await put(path, bytes: Array(content.utf8))
    }

    func put(_ path: String, bytes: [UInt8]) async throws -> HTTPResponse.Status {
        try await client.execute(
            uri: "\(base)/files/content?path=\(Self.query(path))", method: .put,
            headers: [.authorization: "Bearer \(key)", .contentType: "application/octet-stream"], body: ByteBuffer(bytes: bytes)
        ) { $0.status }
    }

    /// Status and body of a raw `GET …/files/content`.
    func read(_ path: String, headers: HTTPFields = [:]) async throws -> (status: HTTPResponse.Status, body: String, headers: HTTPFields) {
        var all = headers
        all[.authorization] = "Bearer \(key)"
        return try await client.execute(uri: "\(base)/files/content?path=\(Self.query(path))", method: .get, headers: all) {
            ($0.status, $0.text, $0.headers)
        }
    }

    /// Status and JSON body of any file route.
    func call(
        _ method: HTTPRequest.Method, _ route: String, body: ByteBuffer? = nil, contentType: String = "application/json"
    ) async throws -> (status: HTTPResponse.Status, json: [String: Any], text: String) {
        try await client.execute(
            uri: base + route, method: method, headers: [.authorization: "Bearer \(key)", .contentType: contentType], body: body
        ) { ($0.status, $0.json, $0.text) }
    }

    func multipart(path: String?, files: [(filename: String, content: [UInt8])]) async throws -> (status: HTTPResponse.Status, json: [String: Any]) {
        let boundary = "----sandbox-host-test-\(UUID().uuidString)"
        var body = [UInt8]()
        if let path {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"path\"\r\n\r\n\(path)\r\n".utf8)
        }
        for file in files {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(file.filename)\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8)
            body += file.content + Array("\r\n".utf8)
        }
        body += Array("--\(boundary)--\r\n".utf8)
        let result = try await call(.post, "/files", body: ByteBuffer(bytes: body), contentType: "multipart/form-data; boundary=\(boundary)")
        return (result.status, result.json)
    }

    /// Every file below the workspace on the host, by relative path: size and a checksum of the
    /// content (or `-> target`), short enough to print when an expectation fails.
    static func snapshot(_ root: String) -> [String: String] {
        var result: [String: String] = [:]
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let relative = enumerator?.nextObject() as? String {
            let full = root + "/" + relative
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: full) {
                result[relative] = "-> " + target
            } else if let data = FileManager.default.contents(atPath: full) {
                result[relative] = "\(data.count) bytes, sum \(data.reduce(0) { ($0 &* 31) &+ Int($1) })"
            }
        }
        return result
    }
}

extension TestHost {
    /// A host without the request rate limit (tests send thousands of requests).
    static func unthrottled(_ configure: (inout HostConfiguration) -> Void = { _ in }) throws -> TestHost {
        try TestHost { configuration in
            configuration.rateLimitPerSecond = 0
            configure(&configuration)
        }
    }
}
