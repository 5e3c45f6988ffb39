import Foundation
import Testing
@testable import SandboxHost

/// `openapi.yaml` and the router describe the same routes.
@Suite struct OpenAPITests {
    /// The package root, found from this file's path.
    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// `METHOD /path` for every operation under `paths:` (the document is written two-space indented).
    static func documentedRoutes(_ yaml: String) -> Set<String> {
        var routes = Set<String>()
        var inPaths = false
        var currentPath: String?
        let methods: Set<String> = ["get", "put", "post", "delete", "patch", "head", "options"]
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" { inPaths = true; continue }
            guard inPaths else { continue }
            if !line.hasPrefix(" ") && !line.isEmpty { break }
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                currentPath = String(line.dropFirst(2).dropLast())
            } else if line.hasPrefix("    "), !line.hasPrefix("     "), let currentPath {
                let key = line.dropFirst(4).prefix { $0 != ":" }
                if methods.contains(String(key)) { routes.insert("\(key.uppercased()) \(currentPath)") }
            }
        }
        return routes
    }

    @Test(.testHost) func everyRouterRouteIsDocumentedAndNothingElse() throws {
        let yaml = try String(contentsOf: Self.root.appendingPathComponent("openapi.yaml"), encoding: .utf8)
        let documented = Self.documentedRoutes(yaml)
        let host = try HostFixture.current.host
        // A catch-all (`**`) is written `{path}` in OpenAPI.
        let routed = Set(HostRouter.build(services: host.services).routes.map {
            "\($0.method.rawValue) \($0.path.description.replacingOccurrences(of: "**", with: "{path}"))"
        })
        #expect(!routed.isEmpty)
        let undocumented = routed.subtracting(documented)
        let unrouted = documented.subtracting(routed)
        #expect(undocumented.isEmpty, "in the router but not in openapi.yaml: \(undocumented.sorted())")
        #expect(unrouted.isEmpty, "in openapi.yaml but not in the router: \(unrouted.sorted())")
    }

    @Test func parserReadsOperationsAndIgnoresOtherKeys() {
        let yaml = """
            paths:
              /api/a/{id}:
                parameters:
                  - { name: id }
                get:
                  summary: x
                delete:
                  summary: y
              /api/b:
                post:
                  summary: z
            components:
              schemas: {}
            """
        #expect(Self.documentedRoutes(yaml) == ["GET /api/a/{id}", "DELETE /api/a/{id}", "POST /api/b"])
    }
}
