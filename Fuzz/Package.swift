// swift-tools-version: 6.1
// libFuzzer harness for the CeleryProtocol wire layer, the worker's triage and cleartokens' settings parsing. Not part of the root package; build it with
// scripts/fuzz-envelope.sh (swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library).
import PackageDescription

let package = Package(
    name: "oauthq-fuzz",
    dependencies: [
        .package(name: "oauthq", path: "..")
    ],
    targets: [
        // SwiftPM renames an executable's entry point to EnvelopeFuzzer_main; this C trampoline defines it and starts
        // libFuzzer's driver (see driver.c).
        .target(name: "CFuzzerDriver"),
        .executableTarget(
            name: "EnvelopeFuzzer",
            dependencies: [
                "CFuzzerDriver", .product(name: "CeleryProtocol", package: "oauthq"),
                .product(name: "OAuthMaintenance", package: "oauthq"),
            ],
            swiftSettings: [
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("InternalImportsByDefault"),
                .enableUpcomingFeature("MemberImportVisibility"),
            ]
        )
    ]
)
