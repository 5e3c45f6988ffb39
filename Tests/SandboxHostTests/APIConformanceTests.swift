import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost

/// Answers that generic HTTP tooling (schemathesis, client generators) checks: 405 with `Allow`
/// for a known path asked with another method, and fields the contract names present as `null`.
@Suite(.timeLimit(.minutes(1)))
struct APIConformanceTests {
    @Test("a known path with a method it does not answer: 405, Allow, the contract's error body", .testHost)
    func methodNotAllowed() async throws {
        let fixture = try HostFixture.current
        let cases: [(HTTPRequest.Method, String, String)] = [
            (.patch, "/api/projects", "GET, POST"),
            (.put, "/api/projects/0123abcd-0000-4000-8000-00000000beef", "DELETE, GET"),
            (.delete, "/api/sandboxes/x/files/content", "GET, PUT"),
            (.post, "/api/agent-run/x/stream", "GET"),
            (.get, "/api/agent/initiate", "POST"),
        ]
        for (method, path, allow) in cases {
            let answer = try await fixture.client.execute(uri: path, method: method, headers: .bearer(fixture.key)) { $0 }
            #expect(answer.status == .methodNotAllowed, "\(method) \(path): \(answer.status) \(answer.text)")
            #expect(answer.headers[.allow] == allow, "\(method) \(path)")
            #expect(answer.json["code"] as? String == "METHOD_NOT_ALLOWED")
            #expect((answer.json["detail"] as? String)?.contains(allow) == true, "\(answer.text)")
        }
        // Health needs no key, so its 405 does not either.
        let health = try await fixture.client.execute(uri: "/api/health", method: .delete) { $0 }
        #expect(health.status == .methodNotAllowed)
        #expect(health.headers[.allow] == "GET")
    }

    @Test("unknown paths stay 404 whatever the method; the key is still checked first", .testHost)
    func unknownPathsAndKeys() async throws {
        let fixture = try HostFixture.current
        for method in [HTTPRequest.Method.get, .post, .patch, .delete] {
            let answer = try await fixture.client.execute(uri: "/api/no-such-route/x", method: method, headers: .bearer(fixture.key)) { $0 }
            #expect(answer.status == .notFound, "\(method)")
            #expect(answer.headers[.allow] == nil)
        }
        let missing = try await fixture.client.execute(
            uri: "/api/projects/0123abcd-0000-4000-8000-00000000beef", method: .get, headers: .bearer(fixture.key)) { $0 }
        #expect(missing.status == .notFound)
        let anonymous = try await fixture.client.execute(uri: "/api/projects", method: .patch) { $0 }
        #expect(anonymous.status == .unauthorized)
    }

    @Test("deployment status and live status of a project never deployed: every field present, null where there is nothing", .testHost)
    func deploymentFieldsAreNull() async throws {
        let fixture = try HostFixture.current
        let project = try await createProject(fixture.client, key: fixture.key)
        let status = try await fixture.client.execute(uri: "/api/project/\(project)/deployment/status", method: .get, headers: .bearer(fixture.key)) { $0 }
        #expect(status.status == .ok)
        let body = status.json
        #expect(body["has_deployment"] as? Bool == false)
        for key in ["url", "last_deployment_id", "commit"] { #expect(body[key] is NSNull, "\(key): \(status.text)") }
        #expect((body["domains"] as? [Any])?.isEmpty == true)
        let live = try await fixture.client.execute(uri: "/api/project/\(project)/deployment/live-status", method: .get, headers: .bearer(fixture.key)) { $0 }
        #expect(live.json["state"] as? String == "none")
        for key in ["deployment_id", "url", "created_at", "ready_at", "error"] { #expect(live.json[key] is NSNull, "\(key): \(live.text)") }
    }
}
