// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "caulk",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "caulk", targets: ["caulk"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        // Already in the graph through NIO; its Heap keeps probe blame at n·log n.
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        // Already in the graph through Hummingbird; named so the scheduler can be a Service.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Already in the graph through Hummingbird; the domain logs what fails in the background.
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        // Already in the graph through async-http-client: HTTPS for `caulk serve` and the CLI.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // Already in the graph through Hummingbird: what caulk counts and times.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        // The Prometheus backend of swift-metrics, for `GET /metrics` (small: swift-metrics and atomics).
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // libssh2 from the system (apt: libssh2-1-dev).
        .systemLibrary(name: "CLibSSH2", pkgConfig: "libssh2", providers: [.apt(["libssh2-1-dev"])]),
        // SSH engine: hosts and commands, pinned host keys, bastions, bounded fan-out. Knows no clusters.
        .target(
            name: "CaulkSSH",
            dependencies: ["CLibSSH2", .product(name: "NIOPosix", package: "swift-nio"), .product(name: "CoreMetrics", package: "swift-metrics")]
        ),
        // Wire types shared by the server and the CLI.
        .target(name: "CaulkAPI"),
        // SQLite through GRDB on the system libsqlite3; schema from Migrations/. Stores the wire
        // enums (run kinds, statuses, outcomes) as their raw values.
        .target(
            name: "CaulkStore",
            dependencies: ["CaulkAPI", .product(name: "GRDB", package: "GRDB.swift")],
            plugins: ["EmbedFiles"]
        ),
        // Inventory, tokens, import formats, playbooks, audits, schedules. Knows no HTTP.
        .target(
            name: "CaulkDomain",
            dependencies: [
                "CaulkAPI", "CaulkStore", "CaulkSSH",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            plugins: ["EmbedFiles"]
        ),
        // REST API on Hummingbird.
        .target(
            name: "CaulkServer",
            dependencies: [
                "CaulkAPI", "CaulkDomain", "CaulkSSH",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Yams", package: "Yams"),
                // Webhook deliveries.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            plugins: ["EmbedFiles"]
        ),
        // The `caulk` command line: `serve` plus the API client subcommands.
        .target(
            name: "CaulkCLI",
            dependencies: [
                "CaulkAPI", "CaulkDomain", "CaulkServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(name: "caulk", dependencies: ["CaulkCLI"]),

        // Build-time embedding of Migrations/*.sql, config/ and openapi.yaml into the binary.
        .executableTarget(name: "caulk-embed"),
        .plugin(name: "EmbedFiles", capability: .buildTool(), dependencies: ["caulk-embed"]),

        // What several test targets share: running programs, the lab fleet's command and nodes.
        .target(
            name: "CaulkTestSupport", dependencies: [.product(name: "Crypto", package: "swift-crypto")], path: "Tests/CaulkTestSupport"),
        .testTarget(name: "CaulkSSHTests", dependencies: ["CaulkSSH", "CaulkTestSupport"]),
        .testTarget(name: "CaulkFleetTests", dependencies: ["CaulkDomain", "CaulkStore", "CaulkSSH", "CaulkAPI", "CaulkTestSupport"]),
        .testTarget(
            name: "CaulkStoreTests",
            dependencies: ["CaulkStore", "CaulkAPI", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(
            name: "CaulkDomainTests",
            dependencies: ["CaulkDomain", "CaulkStore", "CaulkAPI", "CaulkSSH", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(
            name: "CaulkServerTests",
            dependencies: [
                "CaulkServer", "CaulkDomain", "CaulkAPI", "CaulkStore", "CaulkTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .testTarget(
            name: "CaulkCLITests",
            dependencies: [
                "caulk", "CaulkAPI", "CaulkStore", "CaulkTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
