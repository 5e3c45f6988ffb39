import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost

@Suite struct ProjectsTests {
    @Test(.testHost) func createListGetDeleteRoundTrip() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let key = host.adminKey
        let created = try await client.execute(
            uri: "/api/projects", method: .post, headers: .bearer(key),
            body: ByteBuffer(string: #"{"name":"  my app  ","description":"line one\nline two"}"#)
        ) { response in
            #expect(response.status == .created)
            #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
            return response.json
        }
        let id = try #require(created["project_id"] as? String)
        #expect(created["name"] as? String == "my app")
        #expect(created["description"] as? String == "line one\nline two")
        #expect(created["image"] as? String == "default")
        #expect(created["sandbox_id"] is NSNull)
        #expect((created["created_at"] as? String)?.hasSuffix("Z") == true)
        #expect(id.count >= 32)
        #expect(FileManager.default.fileExists(atPath: host.services.workspaces.path(projectID: id)))

        let second = try await createProject(client, key: key, name: "second")
        try await client.execute(uri: "/api/projects", method: .get, headers: .bearer(key)) { response in
            #expect(response.status == .ok)
            let projects = try #require(response.json["projects"] as? [[String: Any]])
            #expect(projects.compactMap { $0["project_id"] as? String } == [second, id])
        }
        try await client.execute(uri: "/api/projects/\(id)", method: .get, headers: .bearer(key)) { response in
            #expect(response.status == .ok)
            #expect(response.json["name"] as? String == "my app")
        }
        try await client.execute(uri: "/api/projects/\(id)", method: .delete, headers: .bearer(key)) { response in
            #expect(response.status == .ok)
            let body = response.json
            #expect(body["deleted"] as? Bool == true)
            #expect(body["project_id"] as? String == id)
        }
        #expect(!FileManager.default.fileExists(atPath: host.services.workspaces.path(projectID: id)))
        try await client.execute(uri: "/api/projects/\(id)", method: .get, headers: .bearer(key)) { response in
            #expect(response.status == .notFound)
            #expect(response.json["code"] as? String == "NOT_FOUND")
        }
        try await client.execute(uri: "/api/projects/\(id)", method: .delete, headers: .bearer(key)) { response in
            #expect(response.status == .notFound)
        }
    }

    @Test(.testHost) func deletingAProjectDeletesItsThreadsAndMessages() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let key = host.adminKey
        let project = try await createProject(client, key: key)
        let thread = try await createThread(client, key: key, projectID: project)
        _ = try await client.execute(
            uri: "/api/threads/\(thread)/messages", method: .post, headers: .bearer(key),
            body: ByteBuffer(string: #"{"content":"hello"}"#))
        _ = try await client.execute(uri: "/api/projects/\(project)", method: .delete, headers: .bearer(key))
        try await client.execute(uri: "/api/threads/\(thread)/messages", method: .get, headers: .bearer(key)) { response in
            #expect(response.status == .notFound)
        }
        let leftover = try host.services.database.runBlocking { connection in
            try connection.query("SELECT (SELECT count(*) FROM threads) + (SELECT count(*) FROM messages) AS leftover").first?.integer("leftover")
        }
        #expect(leftover == 0)
    }

    @Test(.testHost) func unknownImageIsRefusedAndNothingIsCreated() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        try await client.execute(
            uri: "/api/projects", method: .post, headers: .bearer(host.adminKey),
            body: ByteBuffer(string: #"{"name":"x","image":"ubuntu:latest"}"#)
        ) { response in
            #expect(response.status == .unprocessableContent)
            #expect(response.json["code"] as? String == "VALIDATION_ERROR")
        }
        try await client.execute(uri: "/api/projects", method: .get, headers: .bearer(host.adminKey)) { response in
            #expect((response.json["projects"] as? [Any])?.isEmpty == true)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: host.configuration.workspacesPath).isEmpty)
    }
}
