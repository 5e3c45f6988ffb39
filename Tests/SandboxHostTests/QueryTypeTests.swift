import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost

/// Boolean and count query parameters read as FastAPI reads them: a value that is not of the
/// parameter's type is a 422 naming it (openapi.yaml's types, which schemathesis checks), never
/// silently taken as the default.
@Suite(.timeLimit(.minutes(1)))
struct QueryTypeTests {
    @Test("a boolean or resume-point query parameter that is not one is a 422 naming it", .hostWithSandbox)
    func malformedValuesAre422() async throws {
        let fixture = try HostFixture.current
        let files = FileClient(client: fixture.client, key: fixture.key, sandbox: fixture.sandbox)
        let refused: [(route: String, name: String)] = [
            ("/files/tree?all=null", "all"), ("/files/tree?all=", "all"),
            ("/files/search?query=x&ignore_case=maybe", "ignore_case"), ("/files/search?query=x&all=2", "all"),
            ("/download-archive?all=null", "all"),
            ("/files/watch?recursive=nope", "recursive"), ("/files/watch?all=null", "all"),
            ("/files/watch?after=null", "after"), ("/dev-server/stream?after=null", "after"),
            ("/dev-server/stream?after=-1", "after"),
        ]
        for (route, name) in refused {
            let answer = try await files.call(.get, route)
            #expect(answer.status == .unprocessableContent, "\(route): \(answer.status) \(answer.text)")
            #expect((answer.json["detail"] as? String)?.contains("'\(name)'") == true, "\(route): \(answer.text)")
        }
        // Every spelling FastAPI takes still works.
        for value in ["true", "false", "1", "0", "yes", "no", "on", "off", "TRUE", "False"] {
            let answer = try await files.call(.get, "/files/tree?all=\(value)")
            #expect(answer.status == .ok, "all=\(value): \(answer.status) \(answer.text)")
        }
    }

    @Test func flagsAndCounts() throws {
        let query = QueryParameters("a=true&b=OFF&c=1&d=maybe&e=&n=42&m=-1&x=4.5")
        #expect(try query.flag("a") == true)
        #expect(try query.flag("b", default: true) == false)
        #expect(try query.flag("c") == true)
        #expect(try query.flag("absent") == false)
        #expect(try query.flag("absent", default: true) == true)
        #expect(throws: HostError.self) { try query.flag("d") }
        #expect(throws: HostError.self) { try query.flag("e") }
        #expect(try query.count("n") == 42)
        #expect(try query.count("absent") == nil)
        #expect(throws: HostError.self) { try query.count("m") }
        #expect(throws: HostError.self) { try query.count("x") }
    }
}
