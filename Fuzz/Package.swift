// swift-tools-version: 6.0
// libFuzzer targets for the parsers that read untrusted input. Built and run by scripts/fuzz.sh
// (`swift build --package-path Fuzz --sanitize=fuzzer --sanitize=address`); see Fuzz/README.md.
import PackageDescription

let package = Package(
    name: "sts-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "sts", path: ".."),
    ],
    targets: [
        .executableTarget(name: "fuzz-netstring", dependencies: [.product(name: "STSCore", package: "sts")]),
        .executableTarget(name: "fuzz-policy-key", dependencies: [.product(name: "STSCore", package: "sts")]),
        .executableTarget(name: "fuzz-txt-record", dependencies: [.product(name: "STSCore", package: "sts")]),
        .executableTarget(name: "fuzz-policy", dependencies: [.product(name: "STSCore", package: "sts")]),
        .executableTarget(name: "fuzz-json-line", dependencies: [
            .product(name: "STSCore", package: "sts"),
            .product(name: "STSStage", package: "sts"),
        ]),
        .executableTarget(name: "fuzz-config", dependencies: [
            .product(name: "STSCore", package: "sts"),
            .product(name: "STSConfig", package: "sts"),
        ]),
    ]
)
