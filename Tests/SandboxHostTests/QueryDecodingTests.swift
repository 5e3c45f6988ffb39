import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost

/// Query strings decoded as HTML forms, as the contract's Conventions say: `+` is a space, a
/// literal plus is `%2B` — what Python's `requests`, `URLSearchParams` and curl's
/// `--data-urlencode -G` send.
@Suite(.timeLimit(.minutes(1)))
struct QueryDecodingTests {
    @Test("a file named with spaces written, listed, read, searched and deleted through path=…+…; %2B stays a plus", .hostWithSandbox)
    func plusIsASpaceInEveryPath() async throws {
        let fixture = try HostFixture.current
        let files = FileClient(client: fixture.client, key: fixture.key, sandbox: fixture.sandbox)
        let put = try await files.call(.put, "/files/content?path=docs/read+me.md", body: ByteBuffer(string: "hello world\n"))
        #expect(put.status == .ok, "\(put.text)")
        #expect(put.json["path"] as? String == "/workspace/docs/read me.md")
        let plus = try await files.call(.put, "/files/content?path=docs/a%2Bb.md", body: ByteBuffer(string: "plus\n"))
        #expect(plus.json["path"] as? String == "/workspace/docs/a+b.md", "\(plus.text)")

        let listed = try await files.call(.get, "/files?path=docs")
        let names = Set((listed.json["files"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String })
        #expect(names == ["read me.md", "a+b.md"], "\(listed.text)")

        // The same file by `+`, by `%20`, and the plus file by `%2B`.
        #expect(try await files.call(.get, "/files/content?path=docs/read+me.md").text == "hello world\n")
        #expect(try await files.call(.get, "/files/content?path=docs%2Fread%20me.md").text == "hello world\n")
        #expect(try await files.call(.get, "/files/content?path=docs/a%2Bb.md").text == "plus\n")
        #expect(try await files.call(.get, "/files/content?path=docs/a+b.md").status == .notFound)

        let found = try await files.call(.get, "/files/search?query=hello+world&path=docs")
        let matches = found.json["matches"] as? [[String: Any]] ?? []
        #expect(matches.compactMap { ($0["path"] as? String)?.hasSuffix("docs/read me.md") } == [true], "\(found.text)")

        let tree = try await files.call(.get, "/files/tree?path=docs&all=true")
        #expect(tree.json["basePath"] as? String == "/workspace/docs", "\(tree.text)")

        let deleted = try await files.call(.delete, "/files?path=docs/read+me.md")
        #expect(deleted.json["path"] as? String == "/workspace/docs/read me.md", "\(deleted.text)")
        #expect(try await files.call(.get, "/files/content?path=docs/read%20me.md").status == .notFound)
    }

    @Test(arguments: [
        ("a+b", "a b"), ("a%2Bb", "a+b"), ("a%20b", "a b"), ("%2Fworkspace%2Fx", "/workspace/x"), ("caf%C3%A9", "café"),
        ("100%", "100%"), ("%zz", "%zz"), ("%4", "%4"), ("++", "  "), ("%FF", "\u{FFFD}"), ("", ""),
    ])
    func decodesLikeAForm(_ encoded: String, _ decoded: String) {
        #expect(QueryParameters("path=\(encoded)")["path"] == decoded)
    }

    @Test func namesValuesAndRepeats() {
        let query = QueryParameters("a=1&the+name=x&flag&empty=&a=2&&b=%3D%26")
        #expect(query["a"] == "2")
        #expect(query["the name"] == "x")
        #expect(query["flag"] == "")
        #expect(query["empty"] == "")
        #expect(query["b"] == "=&")
        #expect(query["missing"] == nil)
        #expect(QueryParameters(nil)["a"] == nil)
    }

    @Test("no route reads Hummingbird's query parameters (which keep + a plus): all go through QueryParameters")
    func oneDecoderForEveryRoute() throws {
        let sources = OpenAPITests.root.appendingPathComponent("Sources")
        let enumerator = try #require(FileManager.default.enumerator(atPath: sources.path))
        var offenders: [String] = []
        while let file = enumerator.nextObject() as? String {
            guard file.hasSuffix(".swift"), !file.hasSuffix("QueryParameters.swift") else { continue }
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            if text.contains("uri.queryParameters") || text.contains("decodeQuery(") { offenders.append(file) }
        }
        #expect(offenders.isEmpty, "read the query with request.queryParameters instead: \(offenders)")
    }
}
