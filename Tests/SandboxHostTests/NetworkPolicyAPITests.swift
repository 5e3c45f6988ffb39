import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
@testable import SandboxHost
@testable import SandboxRuntime

/// The policy routes (API.md, "Network"): a project's policy at creation, GET and PUT on its
/// sandbox, what a refused policy leaves (nothing), persistence across a restart, and ownership.
/// Networking is off here (the `TestHost` default): the policy is stored, answered and handed to
/// the runtime; what the kernel does with it is NetworkEgressTests'.
@Suite struct NetworkPolicyAPITests {
    static func policy(_ client: any TestClientProtocol, key: String, sandbox: String) async throws -> (HTTPResponse.Status, [String: Any]) {
        try await client.execute(uri: "/api/sandboxes/\(sandbox)/network", method: .get, headers: .bearer(key)) { ($0.status, $0.json) }
    }

    static func put(
        _ client: any TestClientProtocol, key: String, sandbox: String, _ body: String
    ) async throws -> (HTTPResponse.Status, [String: Any]) {
        try await client.execute(
            uri: "/api/sandboxes/\(sandbox)/network", method: .put, headers: .bearer(key), body: ByteBuffer(string: body)
        ) { ($0.status, $0.json) }
    }

    static func projectCount(_ client: any TestClientProtocol, key: String) async throws -> Int {
        try await client.execute(uri: "/api/projects", method: .get, headers: .bearer(key)) { response in
            (response.json["projects"] as? [[String: Any]])?.count ?? -1
        }
    }

    @Test(.hostWithSandbox) func getAnswersTheHostDefaultThenPutChangesAndNormalisesIt() async throws {
        let fixture = try HostFixture.current
        let (status, body) = try await Self.policy(fixture.client, key: fixture.key, sandbox: fixture.sandbox)
        #expect(status == .ok)
        #expect(body["mode"] as? String == "open")
        #expect(body["allow_out"] as? [String] == [])
        #expect(body["deny_out"] as? [String] == [])

        let (putStatus, put) = try await Self.put(
            fixture.client, key: fixture.key, sandbox: fixture.sandbox,
            #"{"mode":"allowlist","allow_out":["PyPI.org","*.npmjs.org","198.51.100.7/24"],"deny_out":["203.0.113.9"]}"#)
        #expect(putStatus == .ok)
        #expect(put["mode"] as? String == "allowlist")
        #expect(put["allow_out"] as? [String] == ["pypi.org", "*.npmjs.org", "198.51.100.0/24"])
        #expect(put["deny_out"] as? [String] == ["203.0.113.9"])
        let (_, after) = try await Self.policy(fixture.client, key: fixture.key, sandbox: fixture.sandbox)
        #expect(after["mode"] as? String == "allowlist")
        #expect(after["allow_out"] as? [String] == ["pypi.org", "*.npmjs.org", "198.51.100.0/24"])
        // The project shows the policy it now has.
        try await fixture.client.execute(uri: "/api/projects/\(fixture.project)", method: .get, headers: .bearer(fixture.key)) { response in
            #expect((response.json["network"] as? [String: Any])?["mode"] as? String == "allowlist")
        }
        // The record the runtime starts the sandbox from carries it.
        let record = try #require(try await fixture.host.services.sandboxes.forProject(fixture.project))
        #expect(record.network?.allowOut.count == 3)
    }

    @Test(.hostWithSandbox) func refusedPutsChangeNothing() async throws {
        let fixture = try HostFixture.current
        let first = #"{"mode":"allowlist","allow_out":["pypi.org"]}"#
        #expect(try await Self.put(fixture.client, key: fixture.key, sandbox: fixture.sandbox, first).0 == .ok)
        for (body, expected) in [
            (#"{"mode":"allowlist","allow_out":["pypi.org","not a name"]}"#, HTTPResponse.Status.badRequest),
            (#"{"mode":"allowlist","allow_out":["10.0.0.0/33"]}"#, .badRequest),
            (#"{"mode":"closed"}"#, .badRequest),
            (#"{"allow_out":[]}"#, .badRequest),
            ("", .badRequest),
            (#"{"mode":"open","via":"x"}"#, .badRequest),
            (#"{"mode":"open","allow_out":["pypi.org"]}"#, .unprocessableContent),
            (#"{"mode":"open","deny_out":[7]}"#, .unprocessableContent),
            (#"["open"]"#, .unprocessableContent),
            ("{not json", .badRequest),
        ] {
            let (status, error) = try await Self.put(fixture.client, key: fixture.key, sandbox: fixture.sandbox, body)
            #expect(status == expected, "\(body): \(error)")
            #expect(error["code"] as? String == "VALIDATION_ERROR", "\(body)")
        }
        let (_, named) = try await Self.put(
            fixture.client, key: fixture.key, sandbox: fixture.sandbox, #"{"mode":"allowlist","allow_out":["evil..org"]}"#)
        #expect((named["detail"] as? String)?.contains(#"invalid network destination "evil..org""#) == true, "\(named)")
        let (_, policy) = try await Self.policy(fixture.client, key: fixture.key, sandbox: fixture.sandbox)
        #expect(policy["mode"] as? String == "allowlist")
        #expect(policy["allow_out"] as? [String] == ["pypi.org"])
    }

    @Test(.testHost) func createWithAPolicyStoresItAndABadOneCreatesNothing() async throws {
        let fixture = try HostFixture.current
        let client = fixture.client, key = fixture.key
        for (body, expected) in [
            (#"{"name":"p","network":{"mode":"allowlist","allow_out":["pypi.org","bad_name.org"]}}"#, HTTPResponse.Status.badRequest),
            (#"{"name":"p","network":{"mode":"none","allow_out":["pypi.org"]}}"#, .unprocessableContent),
            (#"{"name":"p","network":{"mode":"sometimes"}}"#, .badRequest),
            (#"{"name":"p","network":{"mode":"open","extra":true}}"#, .badRequest),
            (#"{"name":"p","network":"open"}"#, .unprocessableContent),
        ] {
            try await client.execute(uri: "/api/projects", method: .post, headers: .bearer(key), body: ByteBuffer(string: body)) { response in
                #expect(response.status == expected, "\(body): \(response.text)")
                #expect(response.json["code"] as? String == "VALIDATION_ERROR")
            }
        }
        #expect(try await Self.projectCount(client, key: key) == 0)
        let workspaces = try FileManager.default.contentsOfDirectory(atPath: fixture.host.configuration.workspacesPath)
        #expect(workspaces.isEmpty, "\(workspaces)")

        let project = try await client.execute(
            uri: "/api/projects", method: .post, headers: .bearer(key),
            body: ByteBuffer(string: #"{"name":"p","network":{"mode":"allowlist","allow_out":["*.NPMJS.org"]}}"#)
        ) { response in
            #expect(response.status == .created, "\(response.text)")
            #expect((response.json["network"] as? [String: Any])?["allow_out"] as? [String] == ["*.npmjs.org"])
            return try #require(response.json["project_id"] as? String)
        }
        // No policy: null, the host default.
        try await client.execute(
            uri: "/api/projects", method: .post, headers: .bearer(key), body: ByteBuffer(string: #"{"name":"q"}"#)
        ) { response in
            #expect(response.status == .created)
            #expect(response.json["network"] is NSNull)
        }
        let sandbox = try await SandboxClient(client: client, key: key).ensureActive(project)
        let (status, policy) = try await Self.policy(client, key: key, sandbox: sandbox)
        #expect(status == .ok)
        #expect(policy["mode"] as? String == "allowlist")
        #expect(policy["allow_out"] as? [String] == ["*.npmjs.org"])
    }

    @Test(.hostWithSandbox(environment: ["SANDBOX_HOST_NETWORK_DEFAULT": "none"]))
    func theHostDefaultComesFromTheEnvironment() async throws {
        let fixture = try HostFixture.current
        let (_, policy) = try await Self.policy(fixture.client, key: fixture.key, sandbox: fixture.sandbox)
        #expect(policy["mode"] as? String == "none")
        #expect(await fixture.host.services.runtime.configuration.defaultNetworkPolicy == .none)
        #expect(!fixture.host.configuration.networkEnabled)
    }

    @Test(.hostWithSandbox) func anotherUsersSandboxIs404() async throws {
        let fixture = try HostFixture.current
        let stranger = try fixture.host.makeUser("stranger")
        let (getStatus, getBody) = try await Self.policy(fixture.client, key: stranger, sandbox: fixture.sandbox)
        #expect(getStatus == .notFound)
        #expect(getBody["code"] as? String == "NOT_FOUND")
        let (putStatus, _) = try await Self.put(fixture.client, key: stranger, sandbox: fixture.sandbox, #"{"mode":"none"}"#)
        #expect(putStatus == .notFound)
        let (missing, _) = try await Self.put(fixture.client, key: fixture.key, sandbox: "no-such-sandbox", #"{"mode":"none"}"#)
        #expect(missing == .notFound)
        let (_, policy) = try await Self.policy(fixture.client, key: fixture.key, sandbox: fixture.sandbox)
        #expect(policy["mode"] as? String == "open", "the stranger's PUT changed the policy")
        // Without a key at all: 401.
        try await fixture.client.execute(uri: "/api/sandboxes/\(fixture.sandbox)/network", method: .get) { response in
            #expect(response.status == .unauthorized)
        }
    }

    @Test func aPutPolicySurvivesAHostRestart() async throws {
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let host = try await HostProcess(dataDir: dataDir)
        let key = try host.adminKey
        let (_, sandbox) = try await host.createSandbox(key: key)
        let put = try await host.request(
            .PUT, "/api/sandboxes/\(sandbox)/network", key: key, body: #"{"mode":"allowlist","allow_out":["pypi.org","203.0.113.0/24"]}"#)
        #expect(put.status == 200, "\(put.body)")
        try await host.stop()

        let restarted = try await HostProcess(dataDir: dataDir)
        let got = try await restarted.request(.GET, "/api/sandboxes/\(sandbox)/network", key: key)
        try await restarted.stop()
        #expect(got.status == 200)
        let policy = try JSONSerialization.jsonObject(with: Data(got.body.utf8)) as? [String: Any]
        #expect(policy?["mode"] as? String == "allowlist")
        #expect(policy?["allow_out"] as? [String] == ["pypi.org", "203.0.113.0/24"])
    }

    @Test func aBadNetworkVariableStopsTheHostFromStarting() async throws {
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        do {
            let host = try await HostProcess(dataDir: dataDir, environment: ["SANDBOX_HOST_NETWORK_DEFAULT": "wide-open"])
            try await host.stop()
            Issue.record("the host started with SANDBOX_HOST_NETWORK_DEFAULT=wide-open")
        } catch let error as HostProcessError {
            #expect(error.description.contains("SANDBOX_HOST_NETWORK_DEFAULT"), "\(error)")
        }
    }
}
