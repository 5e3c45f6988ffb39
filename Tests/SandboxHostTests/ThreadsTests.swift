import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost

@Suite struct ThreadsTests {
    @Test(.testHost) func threadsAndMessagesRoundTrip() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let key = host.adminKey
        let projectA = try await createProject(client, key: key, name: "a")
        let projectB = try await createProject(client, key: key, name: "b")
        let thread = try await createThread(client, key: key, projectID: projectA)
        _ = try await createThread(client, key: key, projectID: projectB)

        try await client.execute(uri: "/api/threads?project_id=\(projectA)", method: .get, headers: .bearer(key)) { response in
            #expect(response.status == .ok)
            let threads = try #require(response.json["threads"] as? [[String: Any]])
            #expect(threads.count == 1)
            #expect(threads.first?["thread_id"] as? String == thread)
            #expect(threads.first?["project_id"] as? String == projectA)
        }
        try await client.execute(uri: "/api/threads", method: .get, headers: .bearer(key)) { response in
            #expect((response.json["threads"] as? [Any])?.count == 2)
        }

        for content in ["first", "second ✓ with \"quotes\"\nand a newline"] {
            try await client.execute(
                uri: "/api/threads/\(thread)/messages", method: .post, headers: .bearer(key),
                body: ByteBuffer(data: try JSONSerialization.data(withJSONObject: ["content": content]))
            ) { response in
                #expect(response.status == .created)
                let body = response.json
                #expect(body["role"] as? String == "user")
                #expect(body["content"] as? String == content)
                #expect((body["message_id"] as? String)?.isEmpty == false)
            }
        }
        try await client.execute(uri: "/api/threads/\(thread)/messages", method: .get, headers: .bearer(key)) { response in
            #expect(response.status == .ok)
            let messages = try #require(response.json["messages"] as? [[String: Any]])
            #expect(messages.compactMap { $0["content"] as? String } == ["first", "second ✓ with \"quotes\"\nand a newline"])
            #expect(messages.allSatisfy { $0["role"] as? String == "user" })
        }
    }

    @Test(.testHost) func threadForUnknownProjectIs404() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        try await client.execute(
            uri: "/api/threads", method: .post, headers: .bearer(host.adminKey),
            body: ByteBuffer(string: #"{"project_id":"no-such-project"}"#)
        ) { response in
            #expect(response.status == .notFound)
            #expect(response.json["code"] as? String == "NOT_FOUND")
        }
        try await client.execute(uri: "/api/threads?project_id=no-such-project", method: .get, headers: .bearer(host.adminKey)) { response in
            #expect(response.status == .notFound)
        }
    }
}
