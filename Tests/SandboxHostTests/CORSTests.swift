import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost

/// CORS for `/api/*` per the contract (`SANDBOX_HOST_CORS_ORIGINS`), through the real router:
/// preflights without a key, only the configured origins, never credentials with `*`, headers
/// on errors too, and nothing on previews and deployed sites.
@Suite(.timeLimit(.minutes(1)))
struct CORSTests {
    static let allowed = "http://app.example.test:5173"
    /// An id of the right shape that names nothing.
    static let fakeID = "0123abcd-0000-4000-8000-00000000beef"
    static let listed: @Sendable (inout HostConfiguration) -> Void = {
        $0.cors = CORSPolicy(parsing: " \(CORSTests.allowed)/ , https://other.example.test")
    }

    func preflight(_ client: any TestClientProtocol, _ path: String, origin: String, method: String = "POST") async throws -> TestResponse {
        try await client.execute(uri: path, method: .options, headers: [
            .origin: origin, .accessControlRequestMethod: method, .accessControlRequestHeaders: "authorization,content-type",
        ]) { $0 }
    }

    @Test("a preflight from a listed origin: 204 without a key, its origin, the methods and the contract's headers", .testHost(configure: listed))
    func preflightFromAnAllowedOrigin() async throws {
        let client = try HostFixture.current.client
        for path in ["/api/projects", "/api/sandboxes/nope/files/content", "/api/agent-run/x/stream"] {
            let answer = try await preflight(client, path, origin: Self.allowed)
            #expect(answer.status == .noContent, "\(path): \(answer.status) \(answer.text)")
            #expect(answer.headers[.accessControlAllowOrigin] == Self.allowed)
            #expect(answer.headers[values: .vary].contains("Origin"))
            let methods = Set((answer.headers[.accessControlAllowMethods] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            #expect(methods.isSuperset(of: ["GET", "POST", "PUT", "DELETE"]), "\(methods)")
            let headers = (answer.headers[.accessControlAllowHeaders] ?? "").lowercased()
            for name in ["authorization", "content-type", "last-event-id"] { #expect(headers.contains(name), "\(headers)") }
            #expect(answer.headers[.accessControlAllowCredentials] == nil, "the key is a header, never a cookie")
        }
    }

    @Test("a preflight from another origin gets no CORS header at all", .testHost(configure: listed))
    func preflightFromADisallowedOrigin() async throws {
        let client = try HostFixture.current.client
        for origin in ["http://evil.example.test", "http://app.example.test:5174", "null", "http://app.example.test:5173.evil.test"] {
            let answer = try await preflight(client, "/api/projects", origin: origin)
            #expect(answer.status == .forbidden, "\(origin): \(answer.status)")
            #expect(answer.json["code"] as? String == "FORBIDDEN")
            #expect(!answer.headers.contains { $0.name.canonicalName.hasPrefix("access-control-") }, "\(origin): \(answer.headers)")
        }
    }

    @Test("answers to an allowed origin carry it, errors included; another origin's answers do not", .testHost(configure: listed))
    func actualResponses() async throws {
        let fixture = try HostFixture.current
        let client = fixture.client
        let ok = try await client.execute(uri: "/api/projects", method: .get, headers: [.origin: Self.allowed, .authorization: "Bearer \(fixture.key)"]) { $0 }
        #expect(ok.status == .ok)
        #expect(ok.headers[.accessControlAllowOrigin] == Self.allowed)
        #expect(ok.headers[values: .vary].contains("Origin"))
        // Refused (no key), missing, and a method the path does not answer: the browser must be able to read why.
        let refused = try await client.execute(uri: "/api/projects", method: .get, headers: [.origin: Self.allowed]) { $0 }
        #expect(refused.status == .unauthorized)
        #expect(refused.headers[.accessControlAllowOrigin] == Self.allowed)
        let missing = try await client.execute(
            uri: "/api/projects/nope", method: .get, headers: [.origin: Self.allowed, .authorization: "Bearer \(fixture.key)"]) { $0 }
        #expect(missing.status == .notFound)
        #expect(missing.headers[.accessControlAllowOrigin] == Self.allowed)
        let health = try await client.execute(uri: "/api/health", method: .get, headers: [.origin: "https://other.example.test"]) { $0 }
        #expect(health.headers[.accessControlAllowOrigin] == "https://other.example.test")

        let foreign = try await client.execute(
            uri: "/api/projects", method: .get, headers: [.origin: "http://evil.example.test", .authorization: "Bearer \(fixture.key)"]) { $0 }
        #expect(foreign.status == .ok)
        #expect(foreign.headers[.accessControlAllowOrigin] == nil)
        #expect(foreign.headers[.accessControlAllowCredentials] == nil)
    }

    @Test("deployed sites are the apps' own: no CORS header from the host", .testHost(configure: listed))
    func previewsAndSitesUntouched() async throws {
        let client = try HostFixture.current.client
        // (A host-based preview's `/api/…` is checked against the real binary, in CORSBrowserTests:
        // the router's test client sets its own authority.)
        let site = try await client.execute(uri: "/deployments/\(Self.fakeID)/", method: .get, headers: [.origin: Self.allowed]) { $0 }
        #expect(site.headers[.accessControlAllowOrigin] == nil, "\(site.status) \(site.headers)")
        let appsHost = try await client.execute(
            uri: "/api/projects", method: .get, headers: [.origin: Self.allowed, HTTPField.Name("Host")!: "\(Self.fakeID).apps.localhost:8000"]) { $0 }
        #expect(appsHost.headers[.accessControlAllowOrigin] == nil, "\(appsHost.status) \(appsHost.headers)")
        let pathPreview = try await preflight(client, "/preview/\(Self.fakeID)/3000/", origin: Self.allowed)
        #expect(pathPreview.headers[.accessControlAllowOrigin] == nil)
    }

    @Test("`*`: any origin, answered `*`, never with credentials", .testHost(configure: { $0.cors = CORSPolicy(parsing: "*") }))
    func anyOrigin() async throws {
        let fixture = try HostFixture.current
        let answer = try await preflight(fixture.client, "/api/projects", origin: "http://anything.example.test")
        #expect(answer.status == .noContent)
        #expect(answer.headers[.accessControlAllowOrigin] == "*")
        #expect(answer.headers[.accessControlAllowCredentials] == nil)
        let listed = try await fixture.client.execute(
            uri: "/api/projects", method: .get, headers: [.origin: "http://x.example.test", .authorization: "Bearer \(fixture.key)"]) { $0 }
        #expect(listed.headers[.accessControlAllowOrigin] == "*")
        #expect(listed.headers[.accessControlAllowCredentials] == nil)
    }

    @Test("off by default: no preflight answer, no header", .testHost)
    func offByDefault() async throws {
        let fixture = try HostFixture.current
        let answer = try await preflight(fixture.client, "/api/projects", origin: Self.allowed)
        #expect(answer.status != .noContent)
        #expect(answer.headers[.accessControlAllowOrigin] == nil)
        let listed = try await fixture.client.execute(
            uri: "/api/projects", method: .get, headers: [.origin: Self.allowed, .authorization: "Bearer \(fixture.key)"]) { $0 }
        #expect(listed.headers[.accessControlAllowOrigin] == nil)
        #expect(!HostConfiguration.fromEnvironment([:]).cors.isEnabled)
    }

    @Test func parsesTheEnvironment() {
        let policy = HostConfiguration.fromEnvironment(["SANDBOX_HOST_CORS_ORIGINS": "HTTPS://App.Example.test/, http://localhost:3000,,"]).cors
        #expect(policy.origins == ["https://app.example.test", "http://localhost:3000"])
        #expect(!policy.anyOrigin)
        #expect(policy.allows("https://app.example.test") && policy.allows("http://localhost:3000"))
        #expect(!policy.allows("http://localhost:3001") && !policy.allows("https://app.example.test.evil.test"))
        #expect(CORSPolicy(parsing: "*").anyOrigin)
        #expect(!CORSPolicy(parsing: "").isEnabled && !CORSPolicy(parsing: " , ").isEnabled)
    }
}
