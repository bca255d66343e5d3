// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6)
]

let package = Package(
    name: "slad",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "slad", targets: ["slad"]),
        .executable(name: "slactl", targets: ["slactl"]),
        .library(name: "SLACore", targets: ["SLACore"]),
        .library(name: "SLAConfig", targets: ["SLAConfig"]),
        // For the fuzz targets (Tests/Fuzz), which build this package with the fuzzer.
        .library(name: "SLAIngest", targets: ["SLAIngest"]),
        .library(name: "SLAControl", targets: ["SLAControl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        .target(name: "CPrefetch"),
        .target(name: "SLACore", dependencies: ["CPrefetch"], swiftSettings: strict),
        // The control API's wire documents, shared by the daemon and slactl.
        .target(
            name: "SLAAPI", dependencies: ["SLACore"], swiftSettings: strict, plugins: [.plugin(name: "BuildVersion")]),
        .plugin(name: "BuildVersion", capability: .buildTool()),
        .target(
            name: "SLAConfig",
            dependencies: [
                "SLACore", .product(name: "Yams", package: "Yams"), .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .target(name: "SLAIngest", dependencies: ["SLACore"], swiftSettings: strict),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .target(
            name: "SLANotify",
            dependencies: [
                "SLACore", "CSystemd",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(
            name: "SLAControl",
            dependencies: [
                "SLAAPI", "SLACore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .target(
            name: "SLAReport",
            dependencies: ["SLACore", "SLAAPI", "SLAStore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict),
        .target(
            name: "SLAStore",
            dependencies: [
                "SLACore", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: strict),
        // The PostgreSQL store of a cluster of nodes: its schema, the leader lease and fenced writes.
        .target(
            name: "SLAPostgres",
            dependencies: [
                "SLACore", "SLAConfig", "SLAStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: strict),
        // The daemon runtime: engine loop, committer, ingest, notifier, control backend, as services.
        .target(
            name: "SLADaemon",
            dependencies: [
                "CSystemd", "SLAAPI", "SLACore", "SLAConfig", "SLAControl", "SLAIngest", "SLANotify", "SLAPostgres",
                "SLAReport", "SLAStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "slad",
            dependencies: [
                "SLAAPI", "SLACore", "SLAConfig", "SLADaemon", "SLAIngest", "SLANotify", "SLAPostgres", "SLAReport",
                "SLAStore", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "slactl",
            dependencies: [
                "SLAAPI", "SLACore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "SLABench",
            dependencies: [
                "SLACore", "SLAConfig", "SLAIngest", "SLAPostgres", "SLAStore", "TestSupport",
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/SLABench",
            swiftSettings: strict
        ),
        // Helpers the test targets share (a seeded generator); not part of any product.
        .target(
            name: "TestSupport",
            dependencies: [
                "SLAConfig", "SLACore", "SLAPostgres", "SLAStore", .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(name: "SLACoreTests", dependencies: ["SLACore", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "SLAConfigTests", dependencies: ["SLACore", "SLAConfig"], swiftSettings: strict),
        .testTarget(
            name: "SLAIngestTests", dependencies: ["SLACore", "SLAIngest", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "SLANotifyTests", dependencies: ["SLACore", "SLANotify"], swiftSettings: strict),
        .testTarget(
            name: "SLAControlTests", dependencies: ["SLAAPI", "SLACore", "SLAControl"], swiftSettings: strict),
        .testTarget(
            name: "SLADaemonTests",
            dependencies: [
                "SLAAPI", "SLACore", "SLAConfig", "SLAControl", "SLADaemon", "SLAPostgres", "SLAStore", "TestSupport",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "SLAStoreTests",
            dependencies: ["SLACore", "SLAStore", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict),
        .testTarget(
            name: "SLAPostgresTests",
            dependencies: [
                "SLACore", "SLAConfig", "SLAIngest", "SLAPostgres", "SLAReport", "SLAStore", "TestSupport",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "SladTests",
            dependencies: [
                "SLAAPI", "SLACore", "SLAConfig", "SLAIngest", "SLANotify", "SLAPostgres", "SLAReport", "SLAStore",
                "TestSupport", .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            exclude: ["Golden", "Scripts"], swiftSettings: strict),
    ]
)

// Fuzz targets (Tests/Fuzz), only when asked for: they have no `main` (libFuzzer brings it) and
// build only with the fuzzer (`scripts/fuzz.sh`, which sets SLAD_FUZZ and a scratch path of its own).
if Context.environment["SLAD_FUZZ"] != nil {
    let fuzz: [SwiftSetting] = strict + [.unsafeFlags(["-parse-as-library"])]
    let targets: [(String, [Target.Dependency])] = [
        ("FuzzJSONL", ["SLACore", "SLAIngest"]),
        ("FuzzCSV", ["SLACore", "SLAConfig", "SLAIngest"]),
        ("FuzzConfig", ["SLAConfig"]),
        ("FuzzICal", ["SLAConfig"]),
        ("FuzzControl", ["SLAAPI", "SLACore", "SLAControl"]),
    ]
    for (name, dependencies) in targets {
        package.targets.append(
            .executableTarget(
                name: name, dependencies: dependencies, path: "Tests/Fuzz/Targets/\(name)", swiftSettings: fuzz))
    }
}
