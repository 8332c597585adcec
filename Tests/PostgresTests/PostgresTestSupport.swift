import Foundation
import Postgres
import TestSupport

/// Connections for the integration tests. Tables are TEMP (session-local) or live in a database created
/// and dropped by the test: the shared server is never modified.
enum PG {
    static func configuration() throws -> PostgresConfiguration {
        try PostgresConfiguration(url: TestEnvironment.databaseURL)
    }

    static func connect() async throws -> PostgresConnection {
        try await PostgresConnection.connect(configuration())
    }

    /// The scram-sha-256 role `oauthq_pw` (see scripts/services.sh).
    static var passwordURL: String {
        let value = ProcessInfo.processInfo.environment["OAUTHQ_PASSWORD_DATABASE_URL"] ?? ""
        return value.isEmpty ? "postgres://oauthq_pw:oauthq-test-password@127.0.0.1:5440/oauthq" : value
    }

    /// Creates a fresh database, runs `body` connected to it, then drops it.
    static func withTemporaryDatabase<R: Sendable>(_ body: (PostgresConnection) async throws -> R) async throws -> R {
        let admin = try await connect()
        let name = TestEnvironment.uniqueName("pgt")
        try await admin.execute("CREATE DATABASE \(identifier: name)")
        var configuration = try configuration()
        configuration.database = name
        do {
            let connection = try await PostgresConnection.connect(configuration)
            let result = try await body(connection)
            await connection.close()
            try await admin.execute("DROP DATABASE \(identifier: name) WITH (FORCE)")
            return result
        } catch {
            _ = try? await admin.execute("DROP DATABASE \(identifier: name) WITH (FORCE)")
            throw error
        }
    }

    /// Polls `pg_stat_activity` until backend `pid` is running a statement (so a cancel will hit it).
    static func waitUntilActive(pid: Int32, observer: PostgresConnection) async throws {
        for _ in 0..<200 {
            let rows = try await observer.query(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = \(pid) AND state = 'active' AND query LIKE '%pg_sleep%'"
            ).rows
            if try rows.first?.decode(Int.self, column: 0) == 1 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw PostgresError(.timeout, message: "backend \(pid) never became active")
    }

    static func backendPID(_ connection: PostgresConnection) async throws -> Int32 {
        try await connection.query("SELECT pg_backend_pid()").rows[0].decode(Int32.self, column: 0)
    }
}

extension ContinuousClock.Instant {
    var elapsed: Duration { ContinuousClock.now - self }
}
