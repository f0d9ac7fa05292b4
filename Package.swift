// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "sts",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sts-dns", targets: ["sts-dns"]),
        .executable(name: "sts-fetch", targets: ["sts-fetch"]),
        .executable(name: "sts-parse", targets: ["sts-parse"]),
        .executable(name: "sts-cache", targets: ["sts-cache"]),
        .executable(name: "sts-query", targets: ["sts-query"]),
        .executable(name: "sts-socketmapd", targets: ["sts-socketmapd"]),
        // The libraries the fuzz targets in Fuzz/ link against.
        .library(name: "STSCore", targets: ["STSCore"]),
        .library(name: "STSStage", targets: ["STSStage"]),
        .library(name: "STSConfig", targets: ["STSConfig"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
    ],
    targets: [
        // Thin modules over the system's C libraries (Debian -dev packages, see scripts/setup).
        .systemLibrary(name: "CIDN2", providers: [.apt(["libidn2-dev"])]),
        .systemLibrary(name: "CUnbound", providers: [.apt(["libunbound-dev"])]),
        // glibc functions Swift's Glibc module does not export (posix_spawn's closefrom, malloc_trim).
        .target(name: "CLibc"),
        .systemLibrary(name: "CCurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CYAML", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CPostgres", providers: [.apt(["libpq-dev"])]),

        // The RFC logic (domain names, TXT records, policies, Postfix answers, JSON) and the system helpers all share.
        .target(name: "STSCore", dependencies: ["CIDN2", "CLibc"]),
        // The JSON-line stage runner every stage executable is built on.
        .target(name: "STSStage", dependencies: [
            "STSCore", "CLibc",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // The daemon's config file (the mta-sts-daemon.yml format) through libyaml.
        .target(name: "STSConfig", dependencies: ["STSCore", "CYAML"]),
        // The policy cache: one protocol, backends for memory, sqlite, redis and PostgreSQL.
        .target(name: "STSCache", dependencies: ["STSCore", "CSQLite", "CHiredis", "CPostgres"]),
        // The Postfix socketmap server: netstrings in, replies out in request order, on SwiftNIO.
        .target(name: "STSSocketmap", dependencies: [
            "STSCore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        // The daemon's logic: the policy service (cache, single flight, time budget) and the stage client.
        .target(name: "STSDaemon", dependencies: [
            "STSCore", "STSStage", "STSCache", "STSConfig", "STSSocketmap",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        // HTTPS policy fetches through libcurl's multi interface.
        .target(name: "STSFetch", dependencies: ["STSCore", "CCurl"]),
        // DNS lookups through libunbound.
        .target(name: "STSDNS", dependencies: ["STSCore", "CUnbound", .product(name: "HeapModule", package: "swift-collections")]),
        // What each stage does to a record: one target per stage, so a stage links only its own C libraries.
        // sts-dns: the `txt` (and `dane`) of a record, through STSDNS.
        .target(name: "STSDNSStage", dependencies: ["STSCore", "STSStage", "STSDNS"]),
        // sts-fetch: the `fetch` of a record, through STSFetch.
        .target(name: "STSFetchStage", dependencies: ["STSCore", "STSStage", "STSFetch"]),
        // sts-parse: the `policy` of a record, from its fetched body.
        .target(name: "STSParseStage", dependencies: ["STSCore", "STSStage"]),
        // sts-cache: the lookup, store and ops stages and the whole-cache scans (dump, export, purge).
        .target(name: "STSCacheStages", dependencies: ["STSCore", "STSStage", "STSCache"]),
        // sts-query: what a record that went through the whole pipeline means, and its report.
        .target(name: "STSVerdict", dependencies: ["STSCore", "STSStage"]),

        .executableTarget(name: "sts-dns", dependencies: [
            "STSCore", "STSStage", "STSDNSStage", "STSDNS",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "sts-fetch", dependencies: [
            "STSCore", "STSStage", "STSFetchStage", "STSFetch",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "sts-parse", dependencies: [
            "STSCore", "STSStage", "STSParseStage",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .executableTarget(name: "sts-cache", dependencies: [
            "STSCore", "STSStage", "STSCacheStages", "STSCache",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Runs the stage executables as child processes; it links none of their libraries.
        .executableTarget(name: "sts-query", dependencies: [
            "STSCore", "STSStage", "STSVerdict",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .executableTarget(name: "sts-socketmapd", dependencies: [
            "STSCore", "STSStage", "STSCache", "STSConfig", "STSDaemon", "STSSocketmap",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),

        .testTarget(name: "STSCoreTests", dependencies: ["STSCore"]),
        .testTarget(name: "STSStageTests", dependencies: ["STSStage", "STSCore"]),
        .testTarget(name: "STSCacheStagesTests", dependencies: ["STSCacheStages", "STSCache", "STSCore", "STSStage", "STSFetch"]),
        .testTarget(name: "STSVerdictTests", dependencies: ["STSVerdict", "STSCore"]),
        .testTarget(name: "STSDNSTests", dependencies: ["STSDNS", "STSCore"]),
        .testTarget(name: "STSFetchTests", dependencies: ["STSFetch", "STSCore", "CCurl"]),
        .testTarget(name: "STSCacheTests", dependencies: ["STSCache", "STSCore"]),
        .testTarget(name: "STSSocketmapTests", dependencies: ["STSSocketmap", "STSCore", .product(name: "NIOPosix", package: "swift-nio")]),
        .testTarget(name: "STSDaemonTests", dependencies: ["STSDaemon", "STSCore", "STSStage", "STSCache", "STSConfig"]),
        .testTarget(name: "STSConfigTests", dependencies: ["STSConfig", "STSCore"]),
    ]
)
