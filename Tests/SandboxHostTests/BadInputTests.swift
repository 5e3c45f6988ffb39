import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost

/// Bad input gets a clear 4xx in the contract's shape, changes nothing, and leaves the host healthy.
@Suite struct BadInputTests {
    struct Bad: CustomTestStringConvertible {
        let uri: String
        let body: String
        let status: HTTPResponse.Status
        let detailMentions: String
        var testDescription: String { "\(uri) \(body.prefix(40))" }
    }

    static let cases: [Bad] = [
        Bad(uri: "/api/projects", body: #"{"name":"#, status: .badRequest, detailMentions: "JSON"),
        Bad(uri: "/api/projects", body: "not json at all", status: .badRequest, detailMentions: "JSON"),
        Bad(uri: "/api/projects", body: "[1,2,3]", status: .unprocessableContent, detailMentions: "JSON object"),
        Bad(uri: "/api/projects", body: "{}", status: .unprocessableContent, detailMentions: "name"),
        Bad(uri: "/api/projects", body: #"{"name":null}"#, status: .unprocessableContent, detailMentions: "name"),
        Bad(uri: "/api/projects", body: #"{"name":42}"#, status: .unprocessableContent, detailMentions: "name"),
        Bad(uri: "/api/projects", body: #"{"name":""}"#, status: .unprocessableContent, detailMentions: "name"),
        Bad(uri: "/api/projects", body: #"{"name":"a\u0000b"}"#, status: .unprocessableContent, detailMentions: "name"),
        Bad(uri: "/api/projects", body: #"{"name":"x","description":7}"#, status: .unprocessableContent, detailMentions: "description"),
        Bad(uri: "/api/projects", body: #"{"name":"\#(String(repeating: "n", count: 201))"}"#, status: .unprocessableContent, detailMentions: "name"),
        Bad(uri: "/api/threads", body: "{}", status: .unprocessableContent, detailMentions: "project_id"),
        Bad(uri: "/api/threads", body: #"{"project_id":["a"]}"#, status: .unprocessableContent, detailMentions: "project_id"),
        Bad(uri: "/api/threads", body: #"{"project_id":"unknown"}"#, status: .notFound, detailMentions: "project"),
    ]

    @Test(.testHost, arguments: cases)
    func badBodiesAreRefusedAndChangeNothing(_ bad: Bad) async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        try await client.execute(uri: bad.uri, method: .post, headers: .bearer(host.adminKey), body: ByteBuffer(string: bad.body)) { response in
            #expect(response.status == bad.status, "\(response.text)")
            let code = response.json["code"] as? String
            #expect(code == (bad.status == .notFound ? "NOT_FOUND" : "VALIDATION_ERROR"))
            let detail = response.json["detail"] as? String ?? ""
            #expect(detail.contains(bad.detailMentions), "\(detail)")
        }
        try await client.execute(uri: "/api/projects", method: .get, headers: .bearer(host.adminKey)) { response in
            #expect((response.json["projects"] as? [Any])?.isEmpty == true)
        }
        try await client.execute(uri: "/api/health", method: .get) { response in
            #expect(response.status == .ok)
        }
    }

    @Test(.testHost) func tenMegabyteBodyIs413() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let big = #"{"name":""# + String(repeating: "a", count: 10 << 20) + #""}"#
        try await client.execute(uri: "/api/projects", method: .post, headers: .bearer(host.adminKey), body: ByteBuffer(string: big)) { response in
            #expect(response.status == .contentTooLarge)
            #expect(response.json["code"] as? String == "PAYLOAD_TOO_LARGE")
        }
        try await client.execute(uri: "/api/projects", method: .get, headers: .bearer(host.adminKey)) { response in
            #expect((response.json["projects"] as? [Any])?.isEmpty == true)
        }
    }

    @Test(.testHost(configure: { $0.maxBodyBytes = 64 })) func bodyLimitIsConfigurable() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let body = #"{"name":"\#(String(repeating: "a", count: 100))"}"#
        try await client.execute(uri: "/api/projects", method: .post, headers: .bearer(host.adminKey), body: ByteBuffer(string: body)) { response in
            #expect(response.status == .contentTooLarge)
        }
        _ = try await createProject(client, key: host.adminKey, name: "small")
    }

    @Test(.testHost) func unknownIDsAndRoutesAre404WithTheContractBody() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        for uri in ["/api/projects/nope", "/api/threads/nope/messages", "/api/no-such-route", "/api/projects/../../etc/passwd"] {
            try await client.execute(uri: uri, method: .get, headers: .bearer(host.adminKey)) { response in
                #expect(response.status == .notFound, "\(uri)")
                #expect(response.json["code"] as? String == "NOT_FOUND", "\(uri)")
            }
        }
    }

    @Test(.testHost) func errorResponsesNeverLeakHostPaths() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        try await client.execute(uri: "/api/projects", method: .post, headers: .bearer(host.adminKey), body: ByteBuffer(string: "{")) { response in
            #expect(!response.text.contains(host.directory))
        }
    }
}
