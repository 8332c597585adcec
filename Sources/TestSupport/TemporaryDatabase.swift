import Foundation
public import Postgres

/// A PostgreSQL database of its own for one test or suite: created empty (or from a template), dropped
/// afterwards. Tests never share tables, so they can run in parallel against one server.
public struct TemporaryDatabase: Sendable {
    /// The database name (`prefix_<12 hex>`).
    public let name: String
    /// A URL for it, on the same server as `TestEnvironment.databaseURL`.
    public let url: String

    /// Creates a database, runs `body` with it, and drops it (even when `body` throws).
    public static func with<T>(
        prefix: String = "oauthq_test",
        template: String? = nil,
        _ body: (TemporaryDatabase) async throws -> T
    ) async throws -> T {
        let database = try await create(prefix: prefix, template: template)
        do {
            let result = try await body(database)
            try await database.drop()
            return result
        } catch {
            try? await database.drop()
            throw error
        }
    }

    /// Creates an empty database (or a copy of `template`).
    public static func create(prefix: String = "oauthq_test", template: String? = nil) async throws -> TemporaryDatabase {
        let name = TestEnvironment.uniqueName(prefix)
        let admin = try await PostgresConnection.connect(PostgresConfiguration(url: TestEnvironment.databaseURL))
        let templateClause = template.map { " TEMPLATE \"\($0)\"" } ?? ""
        try await admin.execute(PostgresQuery(unsafeSQL: "CREATE DATABASE \"\(name)\"\(templateClause)"))
        await admin.close()
        return TemporaryDatabase(name: name, url: Self.url(replacingDatabaseIn: TestEnvironment.databaseURL, with: name))
    }

    /// Drops the database, ending any session still connected to it.
    public func drop() async throws {
        let admin = try await PostgresConnection.connect(PostgresConfiguration(url: TestEnvironment.databaseURL))
        try await admin.execute(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)"))
        await admin.close()
    }

    /// A connection to this database.
    public func connect() async throws -> PostgresConnection {
        try await PostgresConnection.connect(PostgresConfiguration(url: url))
    }

    /// `postgres://user@host:port/<database>`: the path of a URL replaced.
    public static func url(replacingDatabaseIn url: String, with database: String) -> String {
        guard var components = URLComponents(string: url) else { return url }
        components.path = "/" + database
        return components.string ?? url
    }
}
