import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost

/// A fresh `TestHost` for one test (one per argument of a parameterized test), its router
/// client, and, with `.hostWithSandbox`, a project whose sandbox runs: made before the test's
/// body, removed after it (sandboxes killed, volumes unmounted, data directory gone) however
/// the body ends. The body reads it as `try HostFixture.current`.
///
///     @Test(.hostWithSandbox) func echo() async throws {
///         let fixture = try HostFixture.current
///         #expect(try await fixture.sandboxes.run(fixture.sandbox, "echo hi") == "hi\n")
///     }
struct HostFixture: TestTrait, TestScoping {
    var environment: [String: String] = [:]
    var configure: @Sendable (inout HostConfiguration) -> Void = { _ in }
    var makesSandbox = true

    /// What the test body works with.
    struct Scope: Sendable {
        let host: TestHost
        let client: any TestClientProtocol
        /// The project and sandbox `.hostWithSandbox` made (nil for `.testHost`).
        let made: (project: String, sandbox: String)?

        /// The admin key, which owns the fixture's project.
        var key: String { host.adminKey }
        var sandboxes: SandboxClient { SandboxClient(client: client, key: key) }
        var project: String { made?.project ?? Self.none() }
        var sandbox: String { made?.sandbox ?? Self.none() }

        private static func none() -> String {
            Issue.record("the test's fixture made no sandbox: use the .hostWithSandbox trait")
            return ""
        }
    }

    @TaskLocal private static var scope: Scope?

    /// The scope of the running test; throws (failing the test) when it has no `.testHost` /
    /// `.hostWithSandbox` trait.
    static var current: Scope {
        get throws {
            guard let scope else { throw NoFixture() }
            return scope
        }
    }

    struct NoFixture: Error, CustomStringConvertible {
        var description: String { "the test has no .testHost or .hostWithSandbox trait" }
    }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let host = try TestHost(environment: environment, configure: configure)
        defer { host.remove() }
        try await host.test { client in
            let made = makesSandbox ? try await SandboxClient(client: client, key: host.adminKey).create() : nil
            try await Self.$scope.withValue(Scope(host: host, client: client, made: made)) { try await function() }
        }
    }
}

extension Trait where Self == HostFixture {
    /// A fresh host, no project.
    static var testHost: Self { HostFixture(makesSandbox: false) }

    /// A fresh host with `environment` and `configure` applied, no project.
    static func testHost(
        environment: [String: String] = [:], configure: @escaping @Sendable (inout HostConfiguration) -> Void = { _ in }
    ) -> Self {
        HostFixture(environment: environment, configure: configure, makesSandbox: false)
    }

    /// A fresh host and one project (named "sandbox") whose sandbox runs.
    static var hostWithSandbox: Self { HostFixture() }

    /// A fresh host with `environment` and `configure` applied, and one project whose sandbox runs.
    static func hostWithSandbox(
        environment: [String: String] = [:], configure: @escaping @Sendable (inout HostConfiguration) -> Void = { _ in }
    ) -> Self {
        HostFixture(environment: environment, configure: configure)
    }
}

/// Configuration for `.testHost(configure:)` / `.hostWithSandbox(configure:)`: no request rate
/// limit (tests that send thousands of requests), as `TestHost.unthrottled()`.
let unthrottled: @Sendable (inout HostConfiguration) -> Void = { $0.rateLimitPerSecond = 0 }
