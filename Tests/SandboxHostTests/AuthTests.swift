import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost

/// The auth matrix of the issue: every route × {no key, garbage, another user's key, owner}.
@Suite struct AuthTests {
    /// One route with the ids of the owner's resources filled in.
    struct Case {
        let method: HTTPRequest.Method
        let template: String
        let uri: String
        let body: String?
        /// What another user's key gets: 404 for a resource of the owner's, 2xx for a collection.
        let strangerStatus: HTTPResponse.Status
        let ownerStatus: HTTPResponse.Status
        var contentType = "application/json"
    }

    static let boundary = "auth-matrix-boundary"
    static let multipart = "--\(boundary)\r\nContent-Disposition: form-data; name=\"path\"\r\n\r\nup.txt\r\n"
        + "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"up.txt\"\r\n\r\nhello\r\n--\(boundary)--\r\n"

    static func cases(project: String, thread: String, deletable: String, sandbox: String, deletableSandbox: String, run: String) -> [Case] {
        [
            Case(method: .get, template: "/api/projects", uri: "/api/projects", body: nil, strangerStatus: .ok, ownerStatus: .ok),
            Case(method: .post, template: "/api/projects", uri: "/api/projects", body: #"{"name":"x"}"#, strangerStatus: .created, ownerStatus: .created),
            Case(method: .get, template: "/api/projects/{project_id}", uri: "/api/projects/\(project)", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .delete, template: "/api/projects/{project_id}", uri: "/api/projects/\(deletable)", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .post, template: "/api/threads", uri: "/api/threads", body: #"{"project_id":"\#(project)"}"#, strangerStatus: .notFound, ownerStatus: .created),
            Case(method: .get, template: "/api/threads", uri: "/api/threads?project_id=\(project)", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .get, template: "/api/threads/{thread_id}/messages", uri: "/api/threads/\(thread)/messages", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .post, template: "/api/threads/{thread_id}/messages", uri: "/api/threads/\(thread)/messages", body: #"{"content":"hi"}"#, strangerStatus: .notFound, ownerStatus: .created),
            Case(method: .post, template: "/api/project/{project_id}/sandbox/ensure-active", uri: "/api/project/\(project)/sandbox/ensure-active", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .get, template: "/api/sandboxes/{sandbox_id}", uri: "/api/sandboxes/\(sandbox)", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .post, template: "/api/sandboxes/{sandbox_id}/execute", uri: "/api/sandboxes/\(sandbox)/execute", body: #"{"command":"true"}"#, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .delete, template: "/api/sandboxes/{sandbox_id}", uri: "/api/sandboxes/\(deletableSandbox)", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .get, template: "/api/sandboxes/{sandbox_id}/network", uri: "/api/sandboxes/\(sandbox)/network", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .put, template: "/api/sandboxes/{sandbox_id}/network", uri: "/api/sandboxes/\(sandbox)/network", body: #"{"mode":"open"}"#, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .get, template: "/api/sandboxes/{sandbox_id}/sessions", uri: "/api/sandboxes/\(sandbox)/sessions", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .get, template: "/api/sandboxes/{sandbox_id}/sessions/{session_name}/status", uri: "/api/sandboxes/\(sandbox)/sessions/s/status", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .get, template: "/api/sandboxes/{sandbox_id}/sessions/{session_name}/stream", uri: "/api/sandboxes/\(sandbox)/sessions/s/stream", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .delete, template: "/api/sandboxes/{sandbox_id}/sessions/{session_name}", uri: "/api/sandboxes/\(sandbox)/sessions/s", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .post, template: "/api/sandboxes/{sandbox_id}/pty", uri: "/api/sandboxes/\(sandbox)/pty", body: #"{"command":"true"}"#, strangerStatus: .notFound, ownerStatus: .created),
            Case(method: .get, template: "/api/sandboxes/{sandbox_id}/pty", uri: "/api/sandboxes/\(sandbox)/pty", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            // No such terminal: the owner's 404 names the terminal, the stranger's the sandbox.
            Case(method: .delete, template: "/api/sandboxes/{sandbox_id}/pty/{pty_id}", uri: "/api/sandboxes/\(sandbox)/pty/none", body: nil, strangerStatus: .notFound, ownerStatus: .notFound),
            Case(method: .get, template: "/api/sandboxes/{sandbox_id}/pty/{pty_id}/ws", uri: "/api/sandboxes/\(sandbox)/pty/none/ws", body: nil, strangerStatus: .notFound, ownerStatus: .notFound),
            // Files, in an order where each owner call finds what the one before it made.
            Case(method: .put, template: "/api/sandboxes/{sandbox_id}/files/content", uri: "/api/sandboxes/\(sandbox)/files/content?path=a.txt", body: "hello", strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .get, template: "/api/sandboxes/{sandbox_id}/files/content", uri: "/api/sandboxes/\(sandbox)/files/content?path=a.txt", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .get, template: "/api/sandboxes/{sandbox_id}/files", uri: "/api/sandboxes/\(sandbox)/files?path=/workspace", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            // A watch of a file: the owner passes auth and ownership and is told to watch a directory (a stream would not end).
            Case(method: .get, template: "/api/sandboxes/{sandbox_id}/files/watch", uri: "/api/sandboxes/\(sandbox)/files/watch?path=a.txt", body: nil, strangerStatus: .notFound, ownerStatus: .badRequest),
            Case(method: .get, template: "/api/sandboxes/{sandbox_id}/files/tree", uri: "/api/sandboxes/\(sandbox)/files/tree", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .get, template: "/api/sandboxes/{sandbox_id}/files/search", uri: "/api/sandboxes/\(sandbox)/files/search?query=hello", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .post, template: "/api/sandboxes/{sandbox_id}/files/move", uri: "/api/sandboxes/\(sandbox)/files/move", body: #"{"from":"a.txt","to":"b.txt"}"#, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .delete, template: "/api/sandboxes/{sandbox_id}/files", uri: "/api/sandboxes/\(sandbox)/files?path=b.txt", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .post, template: "/api/sandboxes/{sandbox_id}/files", uri: "/api/sandboxes/\(sandbox)/files", body: multipart, strangerStatus: .notFound, ownerStatus: .ok, contentType: "multipart/form-data; boundary=\(boundary)"),
            Case(method: .post, template: "/api/sandboxes/{sandbox_id}/files/archive", uri: "/api/sandboxes/\(sandbox)/files/archive?path=x", body: String(repeating: "\u{0}", count: 1024), strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .get, template: "/api/project/{project_id}/deployment/live-status", uri: "/api/project/\(project)/deployment/live-status", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .post, template: "/api/project/{project_id}/deploy/git", uri: "/api/project/\(project)/deploy/git", body: "{}", strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .post, template: "/api/project/{project_id}/deploy/git/update", uri: "/api/project/\(project)/deploy/git/update", body: "{}", strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .get, template: "/api/project/{project_id}/deployment/status", uri: "/api/project/\(project)/deployment/status", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .get, template: "/api/sandboxes/{sandbox_id}/download-archive", uri: "/api/sandboxes/\(sandbox)/download-archive", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .post, template: "/api/sandboxes/{sandbox_id}/dev-server/start", uri: "/api/sandboxes/\(sandbox)/dev-server/start", body: #"{"command":"true"}"#, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .get, template: "/api/sandboxes/{sandbox_id}/dev-server/stream", uri: "/api/sandboxes/\(sandbox)/dev-server/stream?session_name=none", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .get, template: "/api/sandboxes/{sandbox_id}/preview-url", uri: "/api/sandboxes/\(sandbox)/preview-url?port=3000", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .get, template: "/api/sandboxes/{sandbox_id}/expo-url", uri: "/api/sandboxes/\(sandbox)/expo-url", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .get, template: "/api/sandboxes/{sandbox_id}/metrics", uri: "/api/sandboxes/\(sandbox)/metrics", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .get, template: "/api/models/available", uri: "/api/models/available", body: nil, strangerStatus: .ok, ownerStatus: .ok),
            // No provider is configured here: the owner passes auth and learns how to configure one.
            Case(method: .post, template: "/api/thread/{thread_id}/agent/start", uri: "/api/thread/\(thread)/agent/start", body: #"{"message":"hi"}"#, strangerStatus: .badRequest, ownerStatus: .badRequest),
            Case(method: .post, template: "/api/agent/initiate", uri: "/api/agent/initiate", body: #"{"prompt":"hi"}"#, strangerStatus: .badRequest, ownerStatus: .badRequest),
            Case(method: .get, template: "/api/thread/{thread_id}/agent-runs", uri: "/api/thread/\(thread)/agent-runs", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .get, template: "/api/agent-run/{agent_run_id}", uri: "/api/agent-run/\(run)", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .get, template: "/api/agent-run/{agent_run_id}/status", uri: "/api/agent-run/\(run)/status", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .get, template: "/api/agent-run/{agent_run_id}/stream", uri: "/api/agent-run/\(run)/stream", body: nil, strangerStatus: .notFound, ownerStatus: .ok),
            Case(method: .post, template: "/api/agent-run/{agent_run_id}/stop", uri: "/api/agent-run/\(run)/stop", body: "{}", strangerStatus: .notFound, ownerStatus: .ok),
        ]
    }

    @Test(.testHost, .enabled(if: runningAsRoot, "the matrix covers sandbox routes, which need root"))
    func everyRouteRefusesMissingGarbageAndForeignKeys() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let strangerKey = try host.makeUser("stranger")
        let routes = HostRouter.build(services: host.services).routes
            .map { "\($0.method.rawValue) \($0.path)" }
            .filter { $0.contains(" /api/") && !$0.contains("/api/health") }

        let owner = host.adminKey
        let project = try await createProject(client, key: owner)
        let deletable = try await createProject(client, key: owner, name: "to delete")
        let thread = try await createThread(client, key: owner, projectID: project)
        let sandboxes = SandboxClient(client: client, key: owner)
        let sandbox = try await sandboxes.ensureActive(project)
        let (_, deletableSandbox) = try await sandboxes.create(name: "sandbox to delete")
        _ = try await sandboxes.exec(sandbox, "true", extra: ["blocking": false, "session_name": "s"])
        guard case .started(let run) = try await host.services.agentRuns.start(threadID: thread, model: "m", maxSteps: 1, userMessage: nil) else {
            Issue.record("cannot create a run")
            return
        }
        let cases = Self.cases(project: project, thread: thread, deletable: deletable, sandbox: sandbox, deletableSandbox: deletableSandbox, run: run.id)
        // A route added to the router but not to this matrix fails here.
        #expect(Set(cases.map { "\($0.method.rawValue) \($0.template)" }) == Set(routes))

        for route in cases {
            let body = route.body.map { ByteBuffer(string: $0) }
            let label = "\(route.method) \(route.template)"
            let keys: [(String, HTTPFields)] = [
                ("none", [.contentType: "application/json"]),
                ("garbage", .bearer("garbage")),
                ("well-formed but unknown", .bearer("sbx_" + String(repeating: "a", count: 24) + "_" + String(repeating: "b", count: 64))),
                ("not bearer", [.authorization: "Basic \(owner)"]),
            ]
            for (name, headers) in keys {
                try await client.execute(uri: route.uri, method: route.method, headers: headers, body: body) { response in
                    #expect(response.status == .unauthorized, "\(label) with \(name) key")
                    #expect(response.json["code"] as? String == "UNAUTHORIZED")
                    #expect(response.headers[.wwwAuthenticate] == "Bearer")
                }
            }
            var strangerHeaders = HTTPFields.bearer(strangerKey)
            strangerHeaders[.contentType] = route.contentType
            try await client.execute(uri: route.uri, method: route.method, headers: strangerHeaders, body: body) { response in
                #expect(response.status == route.strangerStatus, "\(label) with another user's key: \(response.text)")
            }
            var ownerHeaders = HTTPFields.bearer(owner)
            ownerHeaders[.contentType] = route.contentType
            try await client.execute(uri: route.uri, method: route.method, headers: ownerHeaders, body: body) { response in
                #expect(response.status == route.ownerStatus, "\(label) as owner: \(response.text)")
            }
        }

        // The stranger's listings never show the owner's resources.
        try await client.execute(uri: "/api/projects", method: .get, headers: .bearer(strangerKey)) { response in
            let names = (response.json["projects"] as? [[String: Any]])?.compactMap { $0["project_id"] as? String } ?? []
            #expect(!names.contains(project))
        }
        try await client.execute(uri: "/api/threads", method: .get, headers: .bearer(strangerKey)) { response in
            #expect((response.json["threads"] as? [Any])?.isEmpty == true)
        }
    }

    @Test(.testHost) func healthNeedsNoKey() async throws {
        let fixture = try HostFixture.current
        let client = fixture.client
        try await client.execute(uri: "/api/health", method: .get) { response in
            #expect(response.status == .ok)
            #expect(response.json["status"] as? String == "ok")
            #expect(response.json["timestamp"] is NSNumber)
            #expect((response.json["instance_id"] as? String)?.isEmpty == false)
        }
    }

    @Test(.testHost) func revokedKeyStopsWorkingAtOnce() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let key = try host.makeUser("bob")
        let keyID = try #require(APIKey.parse(key)?.id)
        try await client.execute(uri: "/api/projects", method: .get, headers: .bearer(key)) { response in
            #expect(response.status == .ok)
        }
        _ = try host.services.database.runBlocking { try UserStore.revokeKey(id: keyID, in: $0) }
        try await client.execute(uri: "/api/projects", method: .get, headers: .bearer(key)) { response in
            #expect(response.status == .unauthorized)
        }
    }

    @Test(.testHost) func queryTokenIsAcceptedOnlyOnStreamRoutes() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        try await client.execute(uri: "/api/projects?token=\(host.adminKey)", method: .get) { response in
            #expect(response.status == .unauthorized)
        }
        // A GET …/stream path with a valid ?token= gets past auth (404: no such stream yet).
        try await client.execute(uri: "/api/agent-run/x/stream?token=\(host.adminKey)", method: .get) { response in
            #expect(response.status == .notFound)
        }
        try await client.execute(uri: "/api/agent-run/x/stream?token=garbage", method: .get) { response in
            #expect(response.status == .unauthorized)
        }
        try await client.execute(uri: "/api/agent-run/x/stream?token=\(host.adminKey)", method: .post) { response in
            #expect(response.status == .unauthorized)
        }
    }

    @Test(.testHost) func keysAreStoredOnlyAsHashes() async throws {
        let host = try HostFixture.current.host
        host.services.database.close()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: host.configuration.databasePath))
        let wal = (try? Data(contentsOf: URL(fileURLWithPath: host.configuration.databasePath + "-wal"))) ?? Data()
        let secret = Data(host.adminKey.utf8)
        let secretPart = Data(host.adminKey.split(separator: "_").last!.utf8)
        #expect(bytes.range(of: secret) == nil && wal.range(of: secret) == nil)
        #expect(bytes.range(of: secretPart) == nil && wal.range(of: secretPart) == nil)
        let attributes = try FileManager.default.attributesOfItem(atPath: host.configuration.adminKeyPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let written = try String(contentsOfFile: host.configuration.adminKeyPath, encoding: .utf8)
        #expect(written.trimmingCharacters(in: .whitespacesAndNewlines) == host.adminKey)
    }
}
