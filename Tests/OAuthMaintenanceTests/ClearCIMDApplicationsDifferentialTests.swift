import Foundation
import OAuthMaintenance
import Postgres
import Testing
import TestSupport

/// The remaining rows after oauthq's `clearcimdapplications` must be exactly those after DOT 3.4.1's
/// own `manage.py clearcimdapplications`: one seeded database (Django's migrations; named scenarios
/// with live and dead tokens of each kind, refreshed registrations, non-CIMD applications, rows exactly
/// at `now`, cross-application links; a random mix of hundreds of applications) is cloned twice per
/// batch size, DOT runs on one copy and oauthq on the other with the same frozen `now`, and every
/// table is compared by id and by its token foreign keys; DOT's stdout line must be ours.
@Suite(
    "clearcimdapplications: differential against DOT 3.4.1",
    .enabled(if: TestEnvironment.shouldRunPostgres && PythonReference.shouldRun),
    .timeLimit(.minutes(20))
)
struct ClearCIMDApplicationsDifferentialTests {
    static let now = "2026-11-30T01:56:34.908906+00:00"

    /// DOT's default, one (every application its own batch), small sizes that put boundaries
    /// everywhere (between cross-linked applications too), and one page for everything.
    static let batchSizes: [Int?] = [nil, 1, 2, 7, 64, 5000]

    /// A template migrated by Django and seeded; `environment` selects the Django project.
    static func template(prefix: String, environment: [String: String] = [:], tables: String = "{}") async throws -> TemporaryDatabase {
        let template = try await TemporaryDatabase.create(prefix: prefix)
        let env = environment.merging(["DATABASE_URL": template.url]) { $1 }
        let migrate = try await PythonReference.run("manage.py", ["migrate", "--verbosity", "0"], environment: env)
        try #require(migrate.status == 0, "manage.py migrate failed: \(migrate.stderr)")
        let seed = try await PythonReference.run(
            "seed_cimd.py", ["--scenarios", "--count", "600", "--seed", "11", "--now", now, "--tables", tables], environment: env
        )
        try #require(seed.status == 0, "seed failed: \(seed.stderr)")
        return template
    }

    @Test("same rows remain and the same line is printed as by DOT's clearcimdapplications, for every batch size")
    func sameRowsAsDOT() async throws {
        let template = try await Self.template(prefix: "cc_tpl")
        do {
            try await Self.compareAll(template: template, tables: .standard)
        } catch {
            try? await template.drop()
            throw error
        }
        try? await template.drop()
    }

    /// Every batch size, two at a time (DOT's Django start-up dominates; the machine has two cores).
    static func compareAll(template: TemporaryDatabase, tables: DOTTables, environment: [String: String] = [:]) async throws {
        let before = try await TableSnapshot.take(template.url, tables: tables)
        #expect(before.tables[tables.application, default: []].count > 600)
        try await withThrowingTaskGroup(of: Void.self) { group in
            var pending = batchSizes[...]
            for _ in 0..<2 {
                if let size = pending.popFirst() {
                    group.addTask { try await compare(size, template: template, tables: tables, environment: environment, before: before) }
                }
            }
            while try await group.next() != nil {
                if let size = pending.popFirst() {
                    group.addTask { try await compare(size, template: template, tables: tables, environment: environment, before: before) }
                }
            }
        }
    }

    static func compare(
        _ size: Int?, template: TemporaryDatabase, tables: DOTTables, environment: [String: String], before: TableSnapshot
    ) async throws {
        let label = "batch size \(size.map(String.init) ?? "default")"
        let dot = try await TemporaryDatabase.create(prefix: "cc_dot", template: template.name)
        let ours = try await TemporaryDatabase.create(prefix: "cc_oq", template: template.name)
        do {
            let reference = try await PythonReference.run(
                "clearcimdapplications_at.py", ["--now", now] + (size.map { ["--batch-size", String($0)] } ?? []),
                environment: environment.merging(["DATABASE_URL": dot.url]) { $1 }
            )
            #expect(reference.status == 0, "DOT failed [\(label)]: \(reference.stderr)")

            let connection = try await ours.connect()
            let job = try ClearCIMDApplicationsJob(batchSize: size ?? ClearCIMDApplicationsJob.defaultBatchSize, tables: tables)
            let summary = try await job.run(on: connection, now: try #require(ISO8601.parse(now)))
            await connection.close()

            #expect(reference.stdout == summary.dotOutputLine + "\n", "[\(label)]")
            let expected = try await TableSnapshot.take(dot.url, tables: tables)
            let actual = try await TableSnapshot.take(ours.url, tables: tables)
            #expect(actual == expected, "remaining rows differ [\(label)]: \(actual.difference(from: expected))")
            #expect(summary.deleted > 100, "[\(label)]")
            let appsBefore = before.tables[tables.application, default: []].count
            #expect(summary.deleted == appsBefore - actual.tables[tables.application, default: []].count, "[\(label)]")
            let pages = (summary.examined + summary.batchSize - 1) / summary.batchSize
            #expect(summary.batches == pages, "[\(label)]")
        } catch {
            try? await dot.drop(); try? await ours.drop()
            throw error
        }
        try? await dot.drop(); try? await ours.drop()
    }

    @Test("the named scenarios end as DOT's rules say: nothing live, still expired, CIMD only")
    func scenarioOutcomes() async throws {
        try await TemporaryDatabase.with(prefix: "cc_sc") { database in
            let connection = try await database.connect()
            try await DOTSchema.migrate(on: connection)
            let seed = try await PythonReference.run(
                "seed_cimd.py", ["--scenarios", "--now", Self.now], environment: ["DATABASE_URL": database.url]
            )
            try #require(seed.status == 0, "seed failed: \(seed.stderr)")
            let summary = try await ClearCIMDApplicationsJob(batchSize: 3).run(on: connection, now: try #require(ISO8601.parse(Self.now)))
            let left = try await connection.query(
                "SELECT client_id FROM oauth2_provider_application ORDER BY id"
            ).rows.map { try $0.decode(String.self, column: 0).replacingOccurrences(of: "scenario:", with: "") }
            #expect(left.allSatisfy { $0.hasPrefix("kept-") }, "\(left)")
            #expect(left.count == 10)
            #expect(summary.deleted == 5)
            #expect(summary.keptLive == 4)
            #expect(summary.dotOutputLine == "Deleted 5 expired CIMD application(s)")
            // The kept application's access token minted from a deleted refresh token: SET NULL; the one
            // naming a deleted ID token: gone with it (CASCADE); the refresh token naming a deleted
            // access token: SET NULL.
            let linked = try await connection.query(
                """
                SELECT count(*), count(source_refresh_token_id) FROM oauth2_provider_accesstoken
                WHERE application_id = (SELECT id FROM oauth2_provider_application WHERE client_id = 'scenario:kept-linked')
                """
            ).rows[0]
            #expect(try linked.decode(Int64.self, column: 0) == 1)
            #expect(try linked.decode(Int64.self, column: 1) == 0)
            let refresh = try await connection.query(
                """
                SELECT count(*), count(access_token_id) FROM oauth2_provider_refreshtoken
                WHERE application_id = (SELECT id FROM oauth2_provider_application WHERE client_id = 'scenario:kept-linked')
                """
            ).rows[0]
            #expect(try refresh.decode(Int64.self, column: 0) == 1)
            #expect(try refresh.decode(Int64.self, column: 1) == 0)
        }
    }
}
