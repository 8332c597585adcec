import ArgumentParser
import Foundation
import Redis
import Synchronization

/// Where the servers are: flags, else the environment, else the local services' defaults.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "PostgreSQL URL or conninfo (default: $DATABASE_URL).")
    var databaseURLFlag: String?

    @Option(name: .customLong("redis-url"), help: "Redis broker URL: redis://, rediss://, unix:// or sentinel:// (default: $REDIS_URL).")
    var redisURLFlag: String?

    @Option(
        name: .customLong("sentinel-master"),
        help: "The master's name for a sentinel:// URL, Celery's master_name transport option (default: $OAUTHQ_SENTINEL_MASTER)."
    )
    var sentinelMasterFlag: String?

    /// The PostgreSQL URL to use, or a usage error naming the flag and the variable.
    func databaseURL() throws -> String {
        if let url = databaseURLFlag ?? Environment.value("DATABASE_URL") { return url }
        throw CommandFailure(exitCode: 2, "no database given: pass --database-url or set DATABASE_URL")
    }

    /// The Redis URL to use: `--redis-url`, `$REDIS_URL`, or `redis://127.0.0.1:6379/0`.
    func redisURL() -> String {
        redisURLFlag ?? Environment.value("REDIS_URL") ?? "redis://127.0.0.1:6379/0"
    }

    /// The sentinel master's name: `--sentinel-master`, else `$OAUTHQ_SENTINEL_MASTER`.
    func sentinelMaster() -> String? {
        sentinelMasterFlag ?? Environment.value("OAUTHQ_SENTINEL_MASTER")
    }

    /// Parses a Redis URL (broker or result backend) and completes it from the flags and the environment:
    /// the sentinel master's name, and the sentinels' own credentials (`OAUTHQ_SENTINEL_USERNAME`,
    /// `OAUTHQ_SENTINEL_PASSWORD`: environment only, so no password shows in the process list). Warns
    /// once per process when a URL turns certificate verification off (`ssl_cert_reqs=none`).
    func redisConfiguration(
        url: String,
        connectTimeout: Duration = .seconds(5),
        commandTimeout: Duration = .seconds(30)
    ) throws -> RedisConfiguration {
        var configuration = try RedisConfiguration(url: url, connectTimeout: connectTimeout, commandTimeout: commandTimeout)
        if case .sentinel = configuration.endpoint {
            guard let master = sentinelMaster() else {
                throw CommandFailure(
                    exitCode: 2,
                    "a sentinel:// URL needs the master's name: pass --sentinel-master or set OAUTHQ_SENTINEL_MASTER"
                )
            }
            guard master.utf8.count <= 256, !master.contains(where: { $0.isWhitespace || $0.isNewline }) else {
                throw CommandFailure(exitCode: 2, "invalid sentinel master name (no spaces, at most 256 bytes)")
            }
            configuration.sentinelMaster = master
            configuration.sentinelPassword = Environment.value("OAUTHQ_SENTINEL_PASSWORD")
            if configuration.sentinelPassword != nil {
                configuration.sentinelUsername = Environment.value("OAUTHQ_SENTINEL_USERNAME")
            }
        }
        if configuration.tls?.verifiesCertificate == false {
            UnverifiedTLSWarning.emitOnce()
        }
        return configuration
    }
}

/// The one warning for `ssl_cert_reqs=none`, printed at most once per process.
enum UnverifiedTLSWarning {
    private static let printed = Atomic<Bool>(false)

    static func emitOnce() {
        if printed.exchange(true, ordering: .relaxed) { return }
        Console.warning("ssl_cert_reqs=none: the Redis server's TLS certificate is not verified, so anyone on the network path can read and change the traffic")
    }
}

enum Environment {
    /// A non-empty environment variable.
    static func value(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }
}
