import Foundation
import OAuthMaintenance
import Postgres
import Testing
import TestSupport

@Suite(
    "cleartokens: dry run, single flight, live traffic",
    .enabled(if: TestEnvironment.shouldRunPostgres && PythonReference.shouldRun)
)
struct ClearTokensJobTests {
    static let now = "2026-11-30T01:56:34.908906+00:00"
    static let settings = ClearTokensSettings(refreshTokenExpireSeconds: 86400, batchSize: 500)

    /// A migrated database seeded with the reference scenario (docs/dot-compatibility.md), boundary rows and
    /// `count` random units.
    static func seeded(_ database: TemporaryDatabase, count: Int) async throws -> PostgresConnection {
        let connection = try await database.connect()
        try await DOTSchema.migrate(on: connection)
        let seed = try await PythonReference.run(
            "seed.py", ["--scenarios", "--boundaries", "--count", String(count), "--seed", "3", "--now", now],
            environment: ["DATABASE_URL": database.url]
        )
        try #require(seed.status == 0, "seed failed: \(seed.stderr)")
        return connection
    }

    static func instant() throws -> Date { try #require(ISO8601.parse(now)) }

    @Test("--dry-run counts exactly what a real run then deletes, and deletes nothing")
    func dryRun() async throws {
        try await TemporaryDatabase.with(prefix: "ct_dry") { database in
            let connection = try await Self.seeded(database, count: 1500)
            let before = try await TableSnapshot.take(database.url)
            let job = ClearTokensJob(settings: Self.settings)
            let dry = try await job.run(on: connection, now: try Self.instant(), dryRun: true)
            #expect(dry.dryRun)
            #expect(try await TableSnapshot.take(database.url) == before, "a dry run deleted rows")
            let real = try await job.run(on: connection, now: try Self.instant())
            #expect(dry.steps.map(\.deleted) == real.steps.map(\.deleted))
            #expect(real.totalDeleted > 1000)
        }
    }

    @Test("--jobs 3 with batch size 1 over ids from 1 to Int64.max: every expired token deleted, no overflow")
    func parallelWalkAtTheTopOfTheIDs() async throws {
        try await TemporaryDatabase.with(prefix: "ct_max") { database in
            let connection = try await database.connect()
            try await DOTSchema.migrate(on: connection)
            try await connection.execute(
                """
                INSERT INTO oauth2_provider_accesstoken (id, token, expires, scope, created, updated, token_checksum, resource)
                SELECT g, 'token-' || g, now() - interval '1 day', 'read', now(), now(), md5('t' || g) || md5('t' || g), '[]'
                  FROM (SELECT 1::bigint AS g UNION ALL SELECT 9223372036854775807 - s FROM generate_series(0, 4) AS s) ids
                """)
            let url = database.url
            let summary = try await ClearTokensJob(
                settings: ClearTokensSettings(batchSize: 1), jobs: 3,
                connect: { try await PostgresConnection.connect(PostgresConfiguration(url: url)) }
            ).run(on: connection, now: Date())
            #expect(summary.steps.first { $0.step == .expiredAccessTokens }?.deleted == 6)
            let left = try await connection.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM oauth2_provider_accesstoken"))
            #expect(try left.rows[0].decode(Int64.self, column: 0) == 0)
            await connection.close()
        }
    }

    @Test("with the cleanup indexes: a first run over many expired rows walks, a later run over few uses the indexes")
    func indexChoice() async throws {
        try await TemporaryDatabase.with(prefix: "ct_idx") { database in
            let connection = try await Self.seeded(database, count: 1500)
            try await DOTSchema.createCleanupIndexes(on: connection)
            try await connection.execute("ANALYZE")
            let first = try await ClearTokensJob(settings: Self.settings).run(on: connection, now: try Self.instant())
            #expect(first.steps.map(\.via) == Array(repeating: "walk", count: 6))
            #expect(first.totalDeleted > 1000)

            // The steady state: many live tokens, few due. A minute later only the rows that expired or
            // were revoked since are due, a small fraction of each table: found through the indexes.
            try await connection.execute(
                """
                WITH owner AS (SELECT min(user_id) AS u, min(application_id) AS a FROM oauth2_provider_accesstoken),
                idt AS (
                    INSERT INTO oauth2_provider_idtoken (jti, expires, scope, created, updated, application_id, user_id)
                    SELECT gen_random_uuid(), now() + interval '30 days', 'live', now(), now(), a, u
                    FROM owner, generate_series(1, 20000) RETURNING id, application_id, user_id
                ), at AS (
                    INSERT INTO oauth2_provider_accesstoken (token, expires, scope, application_id, user_id, created,
                      updated, id_token_id, token_checksum, resource)
                    SELECT 'live-at-' || id, now() + interval '30 days', 'read', application_id, user_id, now(), now(), id,
                      md5('live-at-' || id) || md5('live-at-' || id), '[]' FROM idt RETURNING id, application_id, user_id
                ), rt AS (
                    INSERT INTO oauth2_provider_refreshtoken (token, access_token_id, application_id, user_id, created,
                      updated, token_checksum, resource)
                    SELECT 'live-rt-' || id, id, application_id, user_id, now(), now(), md5('live-rt-' || id), '[]' FROM at
                )
                INSERT INTO oauth2_provider_grant (code, expires, redirect_uri, scope, application_id, user_id, created,
                  updated, code_challenge, code_challenge_method, nonce, claims, resource)
                SELECT 'live-code-' || n, now() + interval '30 days', 'https://example.com/cb', 'read', a, u, now(), now(),
                  '', '', '', '', '[]' FROM owner, generate_series(1, 20000) n
                """
            )
            try await connection.execute("ANALYZE")
            let later = try Self.instant().addingTimeInterval(60)
            let before = try await TableSnapshot.take(database.url)
            let dry = try await ClearTokensJob(settings: Self.settings).run(on: connection, now: later, dryRun: true)
            let second = try await ClearTokensJob(settings: Self.settings).run(on: connection, now: later)
            #expect(second.steps.map(\.via) == Array(repeating: "index", count: 6))
            #expect(second.steps.map(\.deleted) == dry.steps.map(\.deleted))
            let after = try await TableSnapshot.take(database.url)
            #expect(before.rowCount - after.rowCount == second.totalDeleted)

            // indexedFraction 0 never uses them.
            let third = try await ClearTokensJob(settings: Self.settings, indexedFraction: 0)
                .run(on: connection, now: later.addingTimeInterval(60))
            #expect(third.steps.map(\.via) == Array(repeating: "walk", count: 6))
        }
    }

    @Test("a second run while one holds the lock ends at once with 'already running' and deletes nothing")
    func singleFlight() async throws {
        try await TemporaryDatabase.with(prefix: "ct_lock") { database in
            let connection = try await Self.seeded(database, count: 200)
            let holder = try await database.connect()
            #expect(try await holder.tryAdvisoryLock(ClearTokensJob.lockKey))
            let before = try await TableSnapshot.take(database.url)
            let started = ContinuousClock.now
            let error = await #expect(throws: ClearTokensError.self) {
                try await ClearTokensJob(settings: Self.settings).run(on: connection, now: try Self.instant())
            }
            #expect(error?.code == .alreadyRunning)
            // The holder never lets go before this check: waiting for the lock would hang, not take 30 s.
            #expect(ContinuousClock.now - started < .seconds(30), "it must not wait for the lock")
            #expect(try await TableSnapshot.take(database.url) == before)
            // Released: the next run goes ahead.
            try await holder.advisoryUnlock(ClearTokensJob.lockKey)
            let summary = try await ClearTokensJob(settings: Self.settings).run(on: connection, now: try Self.instant())
            #expect(summary.totalDeleted > 0)
            // The run released its own lock: another connection can take it.
            #expect(try await holder.tryAdvisoryLock(ClearTokensJob.lockKey))
        }
    }

    @Test("two concurrent runs: exactly one deletes, the other reports 'already running' or finds nothing")
    func concurrentRuns() async throws {
        try await TemporaryDatabase.with(prefix: "ct_two") { database in
            let first = try await Self.seeded(database, count: 3000)
            let second = try await database.connect()
            let before = try await TableSnapshot.take(database.url)
            let job = ClearTokensJob(settings: ClearTokensSettings(refreshTokenExpireSeconds: 86400, batchSize: 50))
            async let a: ClearTokensSummary? = try? job.run(on: first, now: try Self.instant())
            async let b: ClearTokensSummary? = try? job.run(on: second, now: try Self.instant())
            let results = await [a, b].compactMap { $0 }
            let after = try await TableSnapshot.take(database.url)
            // Deletions add up exactly: no row deleted twice, none missed.
            #expect(results.reduce(0) { $0 + $1.totalDeleted } == before.rowCount - after.rowCount)
            #expect(!results.isEmpty)
        }
    }

    @Test("live traffic: the application's refreshes never wait longer than about one batch")
    func liveTraffic() async throws {
        try await TemporaryDatabase.with(prefix: "ct_live") { database in
            let connection = try await Self.seeded(database, count: 12000)
            let writerConnection = try await database.connect()
            // Seeded live pairs the application will refresh: the same refresh and access token rows
            // that cleartokens' steps 3 and 4 select, lock and delete.
            let pairs = try await writerConnection.query(
                """
                SELECT rt.id, rt.access_token_id FROM oauth2_provider_refreshtoken rt
                WHERE rt.access_token_id IS NOT NULL AND rt.revoked IS NULL ORDER BY random() LIMIT 3000
                """
            ).rows.map { (try $0.decode(Int64.self, column: 0), try $0.decode(Int64.self, column: 1)) }
            try #require(pairs.count > 1000)
            let ids = try await writerConnection.query(
                "SELECT user_id, application_id FROM oauth2_provider_accesstoken LIMIT 1"
            ).rows[0]
            let user = try ids.decode(Int32.self, column: 0), application = try ids.decode(Int64.self, column: 1)

            // The application: issue a token pair, then refresh it (revoke the RT, delete the AT, issue a
            // new pair minted from the old RT), over and over, each in its own short transaction.
            let stop = ManagedFlag()
            let writer = Task { () -> (operations: Int, longest: Duration) in
                var longest = Duration.zero, operations = 0, serial = 0
                while !stop.isSet {
                    let (seededRT, seededAT) = pairs[serial % pairs.count]
                    serial += 1
                    let tag = "live-\(serial)-\(UUID().uuidString)"
                    let started = ContinuousClock.now
                    try await writerConnection.transaction { conn in
                        // refresh a seeded pair (it may already be gone: then nothing matches)
                        try conn.execute(
                            """
                            UPDATE oauth2_provider_refreshtoken SET revoked = now(), access_token_id = NULL
                            WHERE id = \(seededRT) AND revoked IS NULL
                            """
                        )
                        try conn.execute("DELETE FROM oauth2_provider_accesstoken WHERE id = \(seededAT)")
                        let at = try conn.query(
                            """
                            INSERT INTO oauth2_provider_accesstoken (token, expires, scope, application_id, user_id,
                              created, updated, token_checksum, resource)
                            VALUES (\(tag), now() + interval '1 hour', 'read', \(application), \(user), now(), now(),
                              md5(\(tag)) || md5(\(tag)), '[]') RETURNING id
                            """
                        ).rows[0].decode(Int64.self, column: 0)
                        let rt = try conn.query(
                            """
                            INSERT INTO oauth2_provider_refreshtoken (token, access_token_id, application_id, user_id,
                              created, updated, token_checksum, resource)
                            VALUES (\(tag), \(at), \(application), \(user), now(), now(), md5(\(tag)), '[]') RETURNING id
                            """
                        ).rows[0].decode(Int64.self, column: 0)
                        // refresh: rotate the pair
                        try conn.execute(
                            "UPDATE oauth2_provider_refreshtoken SET revoked = now(), access_token_id = NULL WHERE id = \(rt)"
                        )
                        try conn.execute("UPDATE oauth2_provider_refreshtoken SET access_token_id = NULL WHERE access_token_id = \(at)")
                        try conn.execute("DELETE FROM oauth2_provider_accesstoken WHERE id = \(at)")
                        let next = "\(tag)-2"
                        try conn.execute(
                            """
                            INSERT INTO oauth2_provider_accesstoken (token, expires, scope, application_id, user_id,
                              created, updated, source_refresh_token_id, token_checksum, resource)
                            VALUES (\(next), now() + interval '1 hour', 'read', \(application), \(user), now(), now(), \(rt),
                              md5(\(next)) || md5(\(next)), '[]')
                            """
                        )
                    }
                    longest = max(longest, ContinuousClock.now - started)
                    operations += 1
                }
                return (operations, longest)
            }

            let batchGaps = BatchClock()
            let summary = try await ClearTokensJob(settings: Self.settings)
                .run(on: connection, now: try Self.instant()) { event in
                    if case .batch = event { batchGaps.tick() }
                }
            stop.set()
            let traffic = try await writer.value
            #expect(summary.totalDeleted > 10_000)
            #expect(traffic.operations > 10, "the writer made no progress during the run")
            // A writer waits at most for the batch holding a row it needs; allow scheduling slack.
            let bound = batchGaps.longest * 2 + .milliseconds(300)
            #expect(traffic.longest <= bound, "a refresh waited \(traffic.longest); the longest batch took \(batchGaps.longest)")
        }
    }
}

/// A flag set from one task and read from another.
final class ManagedFlag: @unchecked Sendable {
    // @unchecked Sendable: `value` is only accessed with `lock` held.
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

/// The longest gap between consecutive batch reports (≈ the longest batch).
final class BatchClock: @unchecked Sendable {
    // @unchecked Sendable: both fields are only accessed with `lock` held.
    private let lock = NSLock()
    private var last = ContinuousClock.now
    private var gap = Duration.zero
    var longest: Duration { lock.withLock { gap } }
    func tick() {
        lock.withLock {
            let now = ContinuousClock.now
            gap = max(gap, now - last)
            last = now
        }
    }
}
