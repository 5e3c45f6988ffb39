import Foundation
import Testing

/// Bodies that cost the host without being large in any one place: a multipart form of many
/// empty parts (each file part is a staged file and a descriptor until the end), many small text
/// fields, a chunked body (no Content-Length to refuse up front) longer than the upload cap.
/// Against the real binary, with the caps set small through its environment.
@Suite("Upload limits", .serialized, .enabled(if: runningAsRoot, "sandboxes need root, as in CI"))
struct UploadLimitTests {
    static let environment = [
        "SANDBOX_HOST_MULTIPART_MAX_FILES": "50", "SANDBOX_HOST_MULTIPART_MAX_FIELDS": "10",
        "SANDBOX_HOST_MAX_UPLOAD_BYTES": "\(1 << 20)",
    ]

    /// A multipart body: a `path` field (`/workspace/up`), `files` empty file parts, `fields`
    /// more text fields, `filler` bytes in parts without a name (which the host skips).
    static func form(files: Int, fields: Int = 0, filler: Int = 0) -> (body: [UInt8], contentType: String) {
        let boundary = "limit-test-boundary"
        var text = "--\(boundary)\r\nContent-Disposition: form-data; name=\"path\"\r\n\r\n/workspace/up\r\n"
        for index in 0..<fields {
            text += "--\(boundary)\r\nContent-Disposition: form-data; name=\"field\(index)\"\r\n\r\nvalue\r\n"
        }
        for index in 0..<files {
            text += "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\(index).txt\"\r\n\r\n\r\n"
        }
        var remaining = filler
        while remaining > 0 {
            let size = min(remaining, 64 << 10)
            text += "--\(boundary)\r\nContent-Disposition: form-data\r\n\r\n" + String(repeating: "x", count: size) + "\r\n"
            remaining -= size
        }
        text += "--\(boundary)--\r\n"
        return (Array(text.utf8), "multipart/form-data; boundary=\(boundary)")
    }

    /// Sends `body` with curl (chunked when asked: no Content-Length); answers status and body.
    static func post(_ url: String, key: String, body: [UInt8], contentType: String, chunked: Bool = false, method: String = "POST") throws -> (status: Int, body: String) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("body-\(UUID())").path
        try Data(body).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        var arguments = ["-s", "-w", "\n%{http_code}", "--max-time", "60", "-X", method, "-H", "Authorization: Bearer \(key)",
                         "-H", "Content-Type: \(contentType)", "--data-binary", "@" + file]
        if chunked { arguments += ["-H", "Transfer-Encoding: chunked"] }
        let (_, data) = try Subprocess.run("/usr/bin/curl", arguments + [url], mergeStandardError: false)
        let text = String(decoding: data, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    static func openDescriptors(_ host: HostProcess) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(host.process.processIdentifier)/fd").count) ?? -1
    }

    @Test("a form with more file parts or text fields than the caps is 413, with nothing staged and no descriptor kept")
    func multipartPartCaps() async throws {
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let host = try await HostProcess(dataDir: dataDir, environment: Self.environment)
        defer { Task { try? await host.stop() } }
        let key = try host.adminKey
        let (_, sandbox) = try await host.createSandbox(key: key)
        let url = "\(host.baseURL)/api/sandboxes/\(sandbox)/files"
        let before = Self.openDescriptors(host)

        let tooMany = Self.form(files: 80)
        let refused = try Self.post(url, key: key, body: tooMany.body, contentType: tooMany.contentType)
        #expect(refused.status == 413, "\(refused.status) \(refused.body.prefix(300))")
        #expect(refused.body.contains("PAYLOAD_TOO_LARGE"))
        let manyFields = Self.form(files: 1, fields: 19)
        let refusedFields = try Self.post(url, key: key, body: manyFields.body, contentType: manyFields.contentType)
        #expect(refusedFields.status == 413, "\(refusedFields.status) \(refusedFields.body.prefix(300))")

        // Nothing left behind: no staged file, no descriptor, nothing in the workspace.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dataDir + "/staging").isEmpty)
        let after = Self.openDescriptors(host)
        #expect(after <= before + 4, "descriptors: \(before) before, \(after) after")
        let listed = try await host.request(.GET, "/api/sandboxes/\(sandbox)/files?path=/workspace", key: key)
        #expect(!listed.body.contains("\"up\""), "\(listed.body.prefix(300))")

        // At the caps (50 files; the path and 9 more fields), the form is taken.
        let atCap = Self.form(files: 50, fields: 9)
        let accepted = try Self.post(url, key: key, body: atCap.body, contentType: atCap.contentType)
        #expect(accepted.status == 200, "\(accepted.status) \(accepted.body.prefix(300))")
        #expect(accepted.body.contains("/workspace/up/f49.txt"))
    }

    @Test("forms in flight share one budget of staged files: beyond it 429, and the places come back")
    func stagedFileBudget() async throws {
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let host = try await HostProcess(dataDir: dataDir, environment: Self.environment.merging(["SANDBOX_HOST_MULTIPART_MAX_STAGED_FILES": "30"]) { $1 })
        defer { Task { try? await host.stop() } }
        let key = try host.adminKey
        let (_, sandbox) = try await host.createSandbox(key: key)
        let url = "\(host.baseURL)/api/sandboxes/\(sandbox)/files"

        let overBudget = Self.form(files: 40)
        let refused = try Self.post(url, key: key, body: overBudget.body, contentType: overBudget.contentType)
        #expect(refused.status == 429, "\(refused.status) \(refused.body.prefix(300))")
        let within = Self.form(files: 30)
        for _ in 0..<2 {
            let accepted = try Self.post(url, key: key, body: within.body, contentType: within.contentType)
            #expect(accepted.status == 200, "\(accepted.status) \(accepted.body.prefix(300))")
        }
    }

    @Test("a chunked body longer than the upload cap is 413, whatever the route does with its bytes")
    func chunkedBodyCap() async throws {
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let host = try await HostProcess(dataDir: dataDir, environment: Self.environment)
        defer { Task { try? await host.stop() } }
        let key = try host.adminKey
        let (_, sandbox) = try await host.createSandbox(key: key)

        // Parts the host skips still count: 2 MiB of them against a 1 MiB cap.
        let skipped = Self.form(files: 1, filler: 2 << 20)
        let chunked = try Self.post(
            "\(host.baseURL)/api/sandboxes/\(sandbox)/files", key: key, body: skipped.body,
            contentType: skipped.contentType, chunked: true)
        #expect(chunked.status == 413, "\(chunked.status) \(chunked.body.prefix(300))")
        // The same with a Content-Length is refused before a byte is read.
        let declared = try Self.post(
            "\(host.baseURL)/api/sandboxes/\(sandbox)/files", key: key, body: skipped.body, contentType: skipped.contentType)
        #expect(declared.status == 413)
        // A raw PUT and an archive upload, chunked, too.
        let raw = [UInt8](repeating: 0x61, count: (1 << 20) + 4096)
        let put = try Self.post(
            "\(host.baseURL)/api/sandboxes/\(sandbox)/files/content?path=/workspace/big", key: key, body: raw,
            contentType: "application/octet-stream", chunked: true, method: "PUT")
        #expect(put.status == 413, "\(put.status) \(put.body.prefix(300))")
        let archive = try Self.post(
            "\(host.baseURL)/api/sandboxes/\(sandbox)/files/archive?path=/workspace", key: key, body: raw,
            contentType: "application/gzip", chunked: true)
        #expect(archive.status == 413, "\(archive.status) \(archive.body.prefix(300))")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dataDir + "/staging").isEmpty)
    }
}
