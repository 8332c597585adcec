import Foundation
import OAuthMaintenance
import Postgres
import Testing
import TestSupport

@Suite("DOT schema (oauthq migrate)", .enabled(if: TestEnvironment.shouldRunPostgres))
struct DOTSchemaTests {
    /// `pg_dump --schema-only` of the DOT tables, reduced to its statements: no comments, no session
    /// SETs, no `\restrict` lines (their key is random), one statement per element.
    static func schemaStatements(_ dump: String) -> [String] {
        let kept = dump.split(separator: "\n", omittingEmptySubsequences: false).filter { line in
            !line.hasPrefix("--") && !line.hasPrefix("\\") && !line.hasPrefix("SET ")
                && !line.hasPrefix("SELECT pg_catalog.set_config")
        }
        return kept.joined(separator: "\n").split(separator: ";")
            .map { $0.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
            .filter { !$0.isEmpty }
    }

    static func dump(_ database: TemporaryDatabase) async throws -> String {
        let output = try await ProcessRunner.output(
            URL(fileURLWithPath: "/usr/bin/pg_dump"),
            ["--schema-only", "--no-owner", "--no-privileges", "-t", "auth_user", "-t", "oauth2_provider_*", database.url]
        )
        #expect(output.status == 0, "pg_dump failed: \(output.stderr)")
        return output.stdout
    }

    @Test("migrate on an empty database produces exactly the reference schema")
    func matchesReference() async throws {
        try await TemporaryDatabase.with { database in
            let connection = try await database.connect()
            let report = try await DOTSchema.migrate(on: connection)
            #expect(report.created.count == 7)
            let reference = try String(contentsOf: RepositoryPaths.reference("dot-schema.sql"), encoding: .utf8)
            let expected = Self.schemaStatements(reference)
            let actual = Self.schemaStatements(try await Self.dump(database))
            #expect(expected.count > 60)
            #expect(Set(actual).subtracting(expected).sorted() == [], "statements not in the reference")
            #expect(Set(expected).subtracting(actual).sorted() == [], "reference statements missing")
            #expect(actual == expected)
        }
    }

    @Test("migrate twice changes nothing the second time")
    func idempotent() async throws {
        try await TemporaryDatabase.with { database in
            let connection = try await database.connect()
            try await DOTSchema.migrate(on: connection)
            let before = Self.schemaStatements(try await Self.dump(database))
            let second = try await DOTSchema.migrate(on: connection)
            #expect(second.created == [])
            #expect(second.alreadyPresent.count == 7)
            #expect(Self.schemaStatements(try await Self.dump(database)) == before)
        }
    }

    @Test("migrate creates only the missing tables next to an existing auth_user")
    func partial() async throws {
        try await TemporaryDatabase.with { database in
            let connection = try await database.connect()
            try await connection.execute("CREATE TABLE auth_user (id integer PRIMARY KEY, username text)")
            let report = try await DOTSchema.migrate(on: connection)
            #expect(report.alreadyPresent == ["auth_user"])
            #expect(report.created.count == 6)
            // the existing table was left alone
            let columns = try await connection.query(
                "SELECT count(*) FROM information_schema.columns WHERE table_name = 'auth_user'"
            ).rows[0].decode(Int64.self, column: 0)
            #expect(columns == 2)
        }
    }

    @Test("check names what is missing and passes on a complete schema")
    func check() async throws {
        try await TemporaryDatabase.with { database in
            let connection = try await database.connect()
            let empty = try await DOTSchema.check(on: connection)
            #expect(!empty.isComplete)
            #expect(empty.missingTables.contains("oauth2_provider_accesstoken"))
            #expect(!empty.missingTables.contains("oauth2_provider_devicegrant"))
            try await DOTSchema.migrate(on: connection)
            #expect(try await DOTSchema.check(on: connection).isComplete)
            try await connection.execute("ALTER TABLE oauth2_provider_refreshtoken DROP COLUMN token_family")
            let report = try await DOTSchema.check(on: connection)
            #expect(report.missingTables == [])
            #expect(report.missingColumns == ["oauth2_provider_refreshtoken.token_family"])
        }
    }

    @Test("cleanup indexes are built concurrently, once, and rebuilt when invalid")
    func cleanupIndexes() async throws {
        try await TemporaryDatabase.with { database in
            let connection = try await database.connect()
            try await DOTSchema.migrate(on: connection)
            let built = try await DOTSchema.createCleanupIndexes(on: connection)
            #expect(built == DOTSchema.cleanupIndexes.map(\.name))
            #expect(try await DOTSchema.createCleanupIndexes(on: connection) == [])
            // Simulate an interrupted CREATE INDEX CONCURRENTLY: an invalid index is rebuilt.
            try await connection.execute(
                """
                UPDATE pg_index SET indisvalid = false
                WHERE indexrelid = 'oauthq_grant_expires_idx'::regclass
                """
            )
            #expect(try await DOTSchema.validCleanupIndexes(on: connection) == Set(DOTSchema.cleanupIndexes.map(\.name)).subtracting(["oauthq_grant_expires_idx"]))
            #expect(try await DOTSchema.createCleanupIndexes(on: connection) == ["oauthq_grant_expires_idx"])
            // An index of an earlier oauthq on other columns (expires alone) is not used, and rebuilt.
            try await connection.execute("DROP INDEX oauthq_at_expires_idx")
            try await connection.execute("CREATE INDEX oauthq_at_expires_idx ON oauth2_provider_accesstoken (expires)")
            #expect(try await !DOTSchema.validCleanupIndexes(on: connection).contains("oauthq_at_expires_idx"))
            #expect(try await DOTSchema.createCleanupIndexes(on: connection) == ["oauthq_at_expires_idx"])
            #expect(try await DOTSchema.validCleanupIndexes(on: connection) == Set(DOTSchema.cleanupIndexes.map(\.name)))
        }
    }
}
