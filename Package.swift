// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "sandbox-host",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "sandbox-host", targets: ["sandbox-host"]),
        .executable(name: "sandbox-init", targets: ["sandbox-init"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/multipart-kit.git", from: "4.7.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk.git", from: "0.12.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "CArchive",
            pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev"])]
        ),
        .systemLibrary(
            // nftables rules in-process (no fork/exec of `nft` on a sandbox's start or a DNS answer).
            name: "CNftables",
            pkgConfig: "libnftables",
            providers: [.apt(["libnftables-dev"])]
        ),
        .target(name: "CSandbox"),
        .executableTarget(
            name: "sandbox-init",
            dependencies: ["CSandbox"],
            cSettings: [.unsafeFlags(["-Wall", "-Wextra", "-Werror"])],
            // A static executable: every sandbox start execs this program, and loading the Swift
            // runtime and libstdc++ that swiftc links by default cost ~2.5 ms of each start (3.7 ms
            // per exec against 1.0 ms static, benchmarks/RESULTS.md). It is C and uses no NSS.
            linkerSettings: [.unsafeFlags(["-static-executable"])]
        ),
        .target(
            name: "FileAPI",
            dependencies: ["CArchive", "CSandbox"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AgentLoop",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Deploy",
            dependencies: ["FileAPI", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            // The sandbox runtime: namespaces, cgroups, mounts, spawning, sessions, the poller.
            // No HTTP, no SQLite: what it needs of the store is a protocol it declares.
            name: "SandboxRuntime",
            dependencies: [
                "CSandbox", "FileAPI",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            // The sandboxes' network: a veth link per sandbox, nftables rules per sandbox, NAT,
            // and the DNS resolver the sandboxes use. The runtime sees it as `SandboxNetworking`.
            name: "SandboxNetwork",
            dependencies: [
                "CNftables", "CSandbox", "SandboxRuntime",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SandboxHost",
            dependencies: [
                "CSQLite", "CSandbox", "FileAPI", "AgentLoop", "Deploy", "SandboxRuntime", "SandboxNetwork",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "MultipartKit", package: "multipart-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "MCP", package: "swift-sdk"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "sandbox-host",
            dependencies: ["SandboxHost", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AgentLoopTests",
            dependencies: ["AgentLoop"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FileAPITests",
            dependencies: ["FileAPI"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SandboxHostTests",
            dependencies: [
                "SandboxHost", "SandboxRuntime", "SandboxNetwork", "CSandbox",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // A real WebSocket client for the terminals' tests.
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
