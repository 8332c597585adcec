import ArgumentParser
import Foundation

/// Where the servers are: flags, else the environment, else the local services' defaults.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "PostgreSQL URL or conninfo (default: $DATABASE_URL).")
    var databaseURLFlag: String?

    @Option(name: .customLong("redis-url"), help: "Redis broker URL (default: $REDIS_URL).")
    var redisURLFlag: String?

    /// The PostgreSQL URL to use, or a usage error naming the flag and the variable.
    func databaseURL() throws -> String {
        if let url = databaseURLFlag ?? Environment.value("DATABASE_URL") { return url }
        throw CommandFailure(exitCode: 2, "no database given: pass --database-url or set DATABASE_URL")
    }

    /// The Redis URL to use: `--redis-url`, `$REDIS_URL`, or `redis://127.0.0.1:6379/0`.
    func redisURL() -> String {
        redisURLFlag ?? Environment.value("REDIS_URL") ?? "redis://127.0.0.1:6379/0"
    }
}

enum Environment {
    /// A non-empty environment variable.
    static func value(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }
}
