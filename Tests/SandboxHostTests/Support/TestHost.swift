import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
@testable import SandboxHost
@testable import SandboxRuntime

/// A host on a fresh data directory (real SQLite file, real router), removed afterwards.
struct TestHost {
    let directory: String
    let configuration: HostConfiguration
    let services: HostServices
    let adminKey: String

    init(environment: [String: String] = [:], configure: (inout HostConfiguration) -> Void = { _ in }) throws {
        directory = try TemporaryDirectory.make()
        var configuration = HostConfiguration()
        configuration.dataDir = directory
        // No pool of ready disk images: a test host lives for a few requests, and making images
        // ahead (then waiting for the one being made at removal) costs more than one mkfs per
        // project (measured: light suites 2-3x slower with a pool of 2).
        configuration.diskPoolSize = 0
        // Networking off unless the test asks (`SANDBOX_HOST_NETWORK=on`, with a range of its
        // own): hundreds of test hosts run at once, and most need no link, rules or resolver.
        try configuration.readNetworkEnvironment(environment)
        configuration.networkEnabled = environment["SANDBOX_HOST_NETWORK"]?.lowercased() == "on"
        configure(&configuration)
        self.configuration = configuration
        let opened = try DataDirectory.open(configuration)
        adminKey = try #require(opened.newAdminKey)
        services = try HostServices(configuration: configuration, database: opened.database, environment: environment)
    }

    /// A second user with its own key, for the "another user's resource" checks.
    func makeUser(_ name: String) throws -> String {
        try services.database.runBlocking { connection in
            let user = try UserStore.createUser(named: name, in: connection)
            return try UserStore.createKey(for: user, in: connection).key
        }
    }

    /// Runs `body` against the real router, in process.
    func test<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let app = Application(router: HostRouter.build(services: services), logger: logger)
        return try await app.test(.router, body)
    }

    /// Kills whatever this host's sandboxes still run (a failed test may leave one), then
    /// removes the data directory.
    func remove() {
        services.runtime.cgroups.removeLeftovers()
        // Never a walk into a mounted project volume: unmount them (their loop devices detach).
        services.workspaces.volumes?.unmountAll()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

enum TemporaryDirectory {
    static func make() throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("sandbox-host-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

extension HTTPFields {
    static func bearer(_ key: String) -> HTTPFields { [.authorization: "Bearer \(key)", .contentType: "application/json"] }
}

extension TestResponse {
    /// The body parsed as a JSON object; empty when it is not one (so expectations on it fail).
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
    }

    var text: String { String(buffer: body) }
}

/// Creates a project over HTTP and answers its id.
func createProject(_ client: any TestClientProtocol, key: String, name: String = "demo") async throws -> String {
    try await client.execute(
        uri: "/api/projects", method: .post, headers: .bearer(key), body: ByteBuffer(string: "{\"name\":\"\(name)\"}")
    ) { response in
        try #require(response.status == .created, "create project: \(response.status) \(response.text)")
        return try #require(response.json["project_id"] as? String)
    }
}

/// Creates a thread over HTTP and answers its id.
func createThread(_ client: any TestClientProtocol, key: String, projectID: String) async throws -> String {
    try await client.execute(
        uri: "/api/threads", method: .post, headers: .bearer(key),
        body: ByteBuffer(string: "{\"project_id\":\"\(projectID)\"}")
    ) { response in
        try #require(response.status == .created, "create thread: \(response.status) \(response.text)")
        return try #require(response.json["thread_id"] as? String)
    }
}
