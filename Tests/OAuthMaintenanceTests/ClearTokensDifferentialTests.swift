import Foundation
import OAuthMaintenance
import Postgres
import Testing
import TestSupport

/// The remaining rows after `oauthq cleartokens` must be exactly those after DOT 3.4.1's own
/// `manage.py cleartokens`, for every setting combination: one seeded database (Django's own
/// migrations; the reference scenario of docs/dot-compatibility.md, rows exactly at each cutoff, a randomised mix) is cloned
/// for each run of each combination: DOT runs on one copy and oauthq on the others (walking, with --jobs 3, and by the
/// cleanup indexes) with the same frozen `now`, and every
/// table is compared by id and by its token foreign keys.
@Suite(
    "cleartokens: differential against DOT 3.4.1",
    .enabled(if: TestEnvironment.shouldRunPostgres && PythonReference.shouldRun),
    .timeLimit(.minutes(20))
)
struct ClearTokensDifferentialTests {
    static let now = "2026-11-30T01:56:34.908906+00:00"
    static let settingNames = ClearTokensSettings.Key.allCases.map(\.rawValue)

    /// Every combination of the settings that change what is deleted, and a tiny batch size.
    static let combinations: [[String: String]] = {
        var result: [[String: String]] = []
        for expire in [nil, "0", "86400", "3600.5"] {
            for grace in [nil, "3600"] {
                for reuse in [nil, "true"] {
                    for batch in [nil, "7"] {
                        var values: [String: String] = [:]
                        values["REFRESH_TOKEN_EXPIRE_SECONDS"] = expire
                        values["REFRESH_TOKEN_GRACE_PERIOD_SECONDS"] = grace
                        values["REFRESH_TOKEN_REUSE_PROTECTION"] = reuse
                        values["CLEAR_EXPIRED_TOKENS_BATCH_SIZE"] = batch
                        result.append(values)
                    }
                }
            }
        }
        return result
    }()

    @Test("same rows remain as after DOT's cleartokens, for every setting combination")
    func sameRowsAsDOT() async throws {
        let template = try await TemporaryDatabase.create(prefix: "ct_tpl")
        do {
            let migrate = try await PythonReference.run(
                "manage.py", ["migrate", "--verbosity", "0"], environment: ["DATABASE_URL": template.url]
            )
            try #require(migrate.status == 0, "manage.py migrate failed: \(migrate.stderr)")
            let seed = try await PythonReference.run(
                "seed.py", ["--scenarios", "--boundaries", "--count", "2500", "--seed", "7", "--now", Self.now],
                environment: ["DATABASE_URL": template.url]
            )
            try #require(seed.status == 0, "seed failed: \(seed.stderr)")
            let before = try await TableSnapshot.take(template.url)
            #expect(before.rowCount > 6_000)

            // Two combinations at a time: DOT's Django start-up dominates, and the machine has two cores.
            try await withThrowingTaskGroup(of: Void.self) { group in
                var pending = Self.combinations[...]
                for _ in 0..<2 {
                    if let values = pending.popFirst() {
                        group.addTask { try await Self.compare(values, template: template, before: before) }
                    }
                }
                while try await group.next() != nil {
                    if let values = pending.popFirst() {
                        group.addTask { try await Self.compare(values, template: template, before: before) }
                    }
                }
            }
        } catch {
            try? await template.drop()
            throw error
        }
        try? await template.drop()
    }

    /// One combination: DOT on one clone, oauthq on two others — walking the tables, and driven by the
    /// cleanup indexes — same `now`; the remaining rows must match.
    static func compare(_ values: [String: String], template: TemporaryDatabase, before: TableSnapshot) async throws {
        let label = values.isEmpty ? "defaults" : values.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: " ")
        let dot = try await TemporaryDatabase.create(prefix: "ct_dot", template: template.name)
        let ours = try await TemporaryDatabase.create(prefix: "ct_oq", template: template.name)
        let indexed = try await TemporaryDatabase.create(prefix: "ct_ix", template: template.name)
        let parallel = try await TemporaryDatabase.create(prefix: "ct_j3", template: template.name)
        do {
            let reference = try await PythonReference.run(
                "cleartokens_at.py", ["--now", now],
                environment: values.merging(["DATABASE_URL": dot.url]) { $1 },
                removing: settingNames.filter { values[$0] == nil }
            )
            #expect(reference.status == 0, "DOT failed [\(label)]: \(reference.stderr)")

            let settings = try ClearTokensSettings(values: values)
            let connection = try await ours.connect()
            let summary = try await ClearTokensJob(settings: settings)
                .run(on: connection, now: try #require(ISO8601.parse(now)))
            await connection.close()
            #expect(summary.steps.allSatisfy { $0.skipped || $0.via == "walk" }, "[\(label)]")

            let indexConnection = try await indexed.connect()
            try await DOTSchema.createCleanupIndexes(on: indexConnection)
            let indexSummary = try await ClearTokensJob(settings: settings, indexedFraction: 1)
                .run(on: indexConnection, now: try #require(ISO8601.parse(now)))
            await indexConnection.close()
            #expect(indexSummary.steps.allSatisfy { $0.skipped || $0.via == "index" }, "[\(label)]")
            #expect(indexSummary.steps.map(\.deleted) == summary.steps.map(\.deleted), "per-step counts differ [\(label)]")

            // --jobs 3: each walk split across three connections.
            let parallelConnection = try await parallel.connect()
            let parallelURL = parallel.url
            let parallelSummary = try await ClearTokensJob(
                settings: settings, jobs: 3, connect: { try await PostgresConnection.connect(PostgresConfiguration(url: parallelURL)) }
            ).run(on: parallelConnection, now: try #require(ISO8601.parse(now)))
            await parallelConnection.close()
            #expect(parallelSummary.steps.map(\.deleted) == summary.steps.map(\.deleted), "per-step counts differ with --jobs 3 [\(label)]")

            // DOT warns on stderr exactly when expiry is off; our warning is the same text.
            #expect(reference.stderr.contains(ClearTokensSettings.expiryDisabledWarning) == settings.expiryDisabled, "[\(label)]")

            let expected = try await TableSnapshot.take(dot.url)
            let actual = try await TableSnapshot.take(ours.url)
            #expect(actual == expected, "remaining rows differ [\(label)]: \(actual.difference(from: expected))")
            let actualIndexed = try await TableSnapshot.take(indexed.url)
            #expect(actualIndexed == expected, "remaining rows differ by index [\(label)]: \(actualIndexed.difference(from: expected))")
            #expect(summary.totalDeleted == before.rowCount - actual.rowCount, "[\(label)]")
            let actualParallel = try await TableSnapshot.take(parallel.url)
            #expect(actualParallel == expected, "remaining rows differ with --jobs 3 [\(label)]: \(actualParallel.difference(from: expected))")
        } catch {
            try? await dot.drop(); try? await ours.drop(); try? await indexed.drop(); try? await parallel.drop()
            throw error
        }
        try? await dot.drop(); try? await ours.drop(); try? await indexed.drop(); try? await parallel.drop()
    }

    @Test("the reference scenario rows (docs/dot-compatibility.md#the-reference-scenario) end exactly as DOT leaves them")
    func scenarioOutcomes() async throws {
        try await TemporaryDatabase.with(prefix: "ct_sc") { database in
            let connection = try await database.connect()
            try await DOTSchema.migrate(on: connection)
            let seed = try await PythonReference.run(
                "seed.py", ["--scenarios", "--now", Self.now], environment: ["DATABASE_URL": database.url]
            )
            try #require(seed.status == 0, "seed failed: \(seed.stderr)")
            let summary = try await ClearTokensJob(settings: ClearTokensSettings(refreshTokenExpireSeconds: 86400))
                .run(on: connection, now: try #require(ISO8601.parse(Self.now)))
            // DOT's log counts for EXPIRE=86400: 2/1/1/2/2/1
            #expect(summary.steps.map(\.deleted) == [2, 1, 1, 2, 2, 1])
            let left = try await connection.query(
                """
                SELECT token FROM oauth2_provider_accesstoken UNION ALL SELECT token FROM oauth2_provider_refreshtoken
                UNION ALL SELECT scope FROM oauth2_provider_idtoken UNION ALL SELECT code FROM oauth2_provider_grant
                """
            ).rows.map { try $0.decode(String.self, column: 0).replacingOccurrences(of: "scenario:", with: "") }
            #expect(Set(left) == ["AT2", "RT2", "IDT2", "AT3", "AT8", "AT9", "RT9", "IDT3", "G2"])
            let source = try await connection.query(
                "SELECT source_refresh_token_id FROM oauth2_provider_accesstoken WHERE token = 'scenario:AT8'"
            ).rows[0].decode(Int64?.self, column: 0)
            #expect(source == nil, "AT8's source refresh token was deleted, so Django's SET NULL applies")
        }
    }

    @Test("invalid settings fail with DOT's message before anything is deleted", arguments: [
        ("REFRESH_TOKEN_EXPIRE_SECONDS", "-5", "REFRESH_TOKEN_EXPIRE_SECONDS must not be negative"),
        ("REFRESH_TOKEN_EXPIRE_SECONDS", "soon", "REFRESH_TOKEN_EXPIRE_SECONDS must be either a timedelta or seconds"),
        ("REFRESH_TOKEN_GRACE_PERIOD_SECONDS", "-1", "REFRESH_TOKEN_GRACE_PERIOD_SECONDS must not be negative"),
        ("REFRESH_TOKEN_GRACE_PERIOD_SECONDS", "an hour", "REFRESH_TOKEN_GRACE_PERIOD_SECONDS must be in seconds"),
    ])
    func invalidSettings(name: String, value: String, message: String) async throws {
        let error = #expect(throws: ClearTokensSettings.ConfigurationError.self) {
            try ClearTokensSettings(values: [name: value])
        }
        #expect(error?.description == message)
        try await TemporaryDatabase.with(prefix: "ct_bad") { database in
            let migrate = try await PythonReference.run(
                "manage.py", ["migrate", "--verbosity", "0"], environment: ["DATABASE_URL": database.url]
            )
            try #require(migrate.status == 0, "manage.py migrate failed: \(migrate.stderr)")
            let seed = try await PythonReference.run(
                "seed.py", ["--scenarios", "--now", Self.now], environment: ["DATABASE_URL": database.url]
            )
            try #require(seed.status == 0)
            let before = try await TableSnapshot.take(database.url)
            // DOT: ImproperlyConfigured with the same message, exit 1, nothing deleted.
            let reference = try await PythonReference.run(
                "cleartokens_at.py", ["--now", Self.now],
                environment: [name: value, "DATABASE_URL": database.url],
                removing: Self.settingNames.filter { $0 != name }
            )
            #expect(reference.status == 1)
            #expect(reference.stderr.contains("ImproperlyConfigured: \(message)"))
            #expect(try await TableSnapshot.take(database.url) == before)
        }
    }
}
