// swift-tools-version: 6.2
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "oauthq",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "oauthq", targets: ["oauthq"]),
        .library(name: "CeleryProtocol", targets: ["CeleryProtocol"]),
        // For the fuzzer in Fuzz/ (settings parsing).
        .library(name: "OAuthMaintenance", targets: ["OAuthMaintenance"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // C shims: imported only by Redis and Postgres, never above them.
        // hiredis is found without pkg-config: its .pc file adds -D_FILE_OFFSET_BITS=64, which SwiftPM
        // warns about on every build ("prohibited flag"); the header path <hiredis/hiredis.h> is standard.
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // OpenSSL 3 for rediss:// (hiredis 0.14 has no TLS): the headers are in the standard path.
        .systemLibrary(name: "COpenSSL", providers: [.apt(["libssl-dev"])]),

        .target(name: "ThreadConfinement", swiftSettings: strict),
        .target(name: "CivilCalendar", swiftSettings: strict),
        // Python's str/int/float/urlsplit/ipaddress behaviours that Celery's and DOT's wire formats depend on.
        .target(name: "PythonCompat", swiftSettings: strict),
        .target(
            name: "Redis",
            dependencies: ["CHiredis", "COpenSSL", "ThreadConfinement", "CivilCalendar"],
            swiftSettings: strict
        ),
        .target(
            name: "Postgres",
            dependencies: ["CLibPQ", "ThreadConfinement", "CivilCalendar"],
            swiftSettings: strict
        ),
        .target(
            name: "OAuthMaintenance",
            dependencies: [
                "Postgres", "CivilCalendar", "PythonCompat",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .target(name: "CeleryProtocol", dependencies: ["CivilCalendar", "PythonCompat"], swiftSettings: strict),
        .target(
            name: "Beat",
            dependencies: [
                "Redis", "CeleryProtocol", "CeleryRedis", "CivilCalendar",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CeleryRedis",
            dependencies: [
                "Redis", "CeleryProtocol", "CivilCalendar",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The task handlers the worker registers (ping, DOT's maintenance jobs, the debug tasks), so that tests
        // can run them in-process.
        .target(
            name: "MaintenanceTasks",
            dependencies: [
                "CeleryProtocol", "CeleryRedis", "OAuthMaintenance", "Postgres", "CivilCalendar",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Observability",
            dependencies: ["CivilCalendar", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(name: "TestSupport", dependencies: ["Redis", "Postgres"], swiftSettings: strict),
        .executableTarget(
            name: "oauthq",
            dependencies: [
                "Redis", "Postgres", "OAuthMaintenance", "CeleryProtocol", "Beat", "CeleryRedis", "MaintenanceTasks", "Observability",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        .testTarget(name: "ThreadConfinementTests", dependencies: ["ThreadConfinement"], swiftSettings: strict),
        .testTarget(name: "CivilCalendarTests", dependencies: ["CivilCalendar"], swiftSettings: strict),
        .testTarget(name: "RedisTests", dependencies: ["Redis", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "OAuthMaintenanceTests",
            dependencies: ["OAuthMaintenance", "Postgres", "PythonCompat", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(name: "CeleryProtocolTests", dependencies: ["CeleryProtocol", "PythonCompat", "TestSupport"], exclude: ["python", "captures"], swiftSettings: strict),
        .testTarget(
            name: "CeleryRedisTests",
            dependencies: [
                "CeleryRedis", "CeleryProtocol", "CivilCalendar", "Redis", "Postgres", "OAuthMaintenance", "TestSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "OAuthQTests",
            dependencies: ["TestSupport", "Postgres", "OAuthMaintenance", "Redis", "CeleryProtocol"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ObservabilityTests",
            dependencies: ["Observability", "TestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "MaintenanceTasksTests",
            dependencies: [
                "MaintenanceTasks", "CeleryProtocol", "CeleryRedis", "OAuthMaintenance", "Postgres", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "BeatTests", dependencies: ["Beat", "CeleryProtocol", "CeleryRedis", "Redis", "TestSupport"], swiftSettings: strict),
    ]
)
