import Foundation
import CeleryProtocol
import Postgres
import TestSupport
import Testing

/// The role of examples/least-privilege.sql (docs/operations.md: "PostgreSQL: a least-privilege role") is enough for
/// `createapplication` and `cleartokens`, and no more.
@Suite(.enabled(if: TestEnvironment.shouldRunPostgres))
struct LeastPrivilegeRoleTests {
    static let psql = URL(fileURLWithPath: "/usr/bin/psql")

    /// psql on `url`, stopping at the first error; `input` is the SQL.
    static func psql(_ url: String, _ input: String) async throws -> ProcessOutput {
        try await ProcessRunner.output(psql, [url, "-X", "-q", "-v", "ON_ERROR_STOP=1"], removing: ["PGOPTIONS"], input: input)
    }

    @Test("the least-privilege role runs createapplication and cleartokens, and cannot touch other tables")
    func leastPrivilegeRoleIsEnough() async throws {
        let role = TestEnvironment.uniqueName("oauthq_worker")
        let grants = try String(
            contentsOf: RepositoryPaths.root.appendingPathComponent("examples/least-privilege.sql"), encoding: .utf8)
        let seed = try String(
            contentsOf: RepositoryPaths.root.appendingPathComponent("scripts/quickstart-seed.sql"), encoding: .utf8)
        let outcome: Result<Void, any Error>
        do {
            try await TemporaryDatabase.with(prefix: "oauthq_grants") { database in
                try await Self.exercise(role: role, grants: grants, seed: seed, database: database)
            }
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        // Roles are cluster-wide; once its database is dropped the role holds no privileges and can go.
        let dropped = try await Self.psql(TestEnvironment.databaseURL, "DROP ROLE IF EXISTS \(role)")
        #expect(dropped.status == 0, "\(dropped.stderr)")
        try outcome.get()
    }

    static func exercise(role: String, grants: String, seed: String, database: TemporaryDatabase) async throws {
        let migrate = try await ProcessRunner.output(
            RepositoryPaths.oauthqBinary, ["migrate", "--database-url", database.url])
        try #require(migrate.status == 0, "\(migrate.stderr)")
        let seeded = try await Self.psql(database.url, seed)
        try #require(seeded.status == 0, "\(seeded.stderr)")
        let granted = try await Self.psql(database.url, grants.replacingOccurrences(of: "oauthq_worker", with: role))
        try #require(granted.status == 0, "\(granted.stderr)")

        var components = try #require(URLComponents(string: database.url))
        components.user = role
        components.password = nil
        let roleURL = try #require(components.string)

        let created = try await ProcessRunner.output(
            RepositoryPaths.oauthqBinary,
            ["createapplication", "confidential", "client-credentials", "--name", "least privilege",
             "--database-url", roleURL],
            environment: ["OAUTHQ_PBKDF2_ITERATIONS": "1000"])
        #expect(created.status == 0, "\(created.stdout) \(created.stderr)")
        #expect(created.stdout.contains("created successfully"))

        let cleared = try await ProcessRunner.output(
            RepositoryPaths.oauthqBinary, ["cleartokens", "--json", "--database-url", roleURL],
            environment: ["REFRESH_TOKEN_EXPIRE_SECONDS": "86400"])
        try #require(cleared.status == 0, "\(cleared.stderr)")
        let summary = try JSONValue.parse(cleared.stdout).get()
        let deleted = (summary["steps"]?.arrayValue ?? []).map { $0["deleted"]?.intValue ?? -1 }
        // The seed: 2 revoked refresh tokens, 0 orphans, 5 idle-expired refresh tokens with their 5 access
        // tokens, 2 ID tokens, 3 grants.
        #expect(deleted == [2, 0, 5, 5, 2, 3])

        let dryRun = try await ProcessRunner.output(
            RepositoryPaths.oauthqBinary, ["cleartokens", "--dry-run", "--database-url", roleURL])
        #expect(dryRun.status == 0, "\(dryRun.stderr)")

        // What the role must not do.
        for statement in [
            "DELETE FROM oauth2_provider_devicegrant",
            "SELECT count(*) FROM oauth2_provider_devicegrant",
            "UPDATE oauth2_provider_grant SET expires = now()",
            "UPDATE oauth2_provider_grant SET updated = now()",
            "UPDATE oauth2_provider_idtoken SET updated = now()",
            "UPDATE oauth2_provider_idtoken SET expires = now()",
            "UPDATE oauth2_provider_application SET name = 'x'",
            "DELETE FROM oauth2_provider_application",
            "UPDATE oauth2_provider_accesstoken SET expires = now()",
            "DELETE FROM auth_user",
            "CREATE TABLE oauthq_probe (id int)",
        ] {
            let refused = try await Self.psql(roleURL, statement)
            #expect(refused.status != 0, "\(statement) was allowed")
            #expect(refused.stderr.contains("permission denied"), "\(statement): \(refused.stderr)")
        }
    }
}
