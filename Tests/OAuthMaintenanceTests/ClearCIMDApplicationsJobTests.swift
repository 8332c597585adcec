import Foundation
import Synchronization
import OAuthMaintenance
import Postgres
import Testing
import TestSupport

@Suite(
    "clearcimdapplications: single flight, the lock and re-check, live traffic",
    .enabled(if: TestEnvironment.shouldRunPostgres)
)
struct ClearCIMDApplicationsJobTests {
    static let now = Date(timeIntervalSince1970: 1_796_000_000)

    /// DOT's tables with one owner and `count` expired CIMD applications (client ids `cimd:<n>`).
    static func seeded(_ database: TemporaryDatabase, count: Int) async throws -> PostgresConnection {
        let connection = try await database.connect()
        try await DOTSchema.migrate(on: connection)
        try await connection.execute(
            """
            INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
            VALUES ('!', false, 'owner', '', '', '', false, true, now())
            """
        )
        try await connection.execute(
            """
            INSERT INTO oauth2_provider_application (client_id, redirect_uris, client_type, authorization_grant_type,
                client_secret, name, user_id, skip_authorization, created, updated, algorithm, post_logout_redirect_uris,
                hash_client_secret, allowed_origins, registration_source, cimd_expires_at)
            SELECT 'cimd:' || n, '', 'public', 'authorization-code', '', 'x', NULL, false, now(), now(), '', '', false, '',
                   'cimd', \(now) - interval '1 day'
            FROM generate_series(1, \(count)) n
            """
        )
        return connection
    }

    /// Inserts a live access token for `application` (expires an hour after `now`).
    static func liveAccessToken(_ application: Int64, token: String) -> PostgresQuery {
        """
        INSERT INTO oauth2_provider_accesstoken (token, expires, scope, application_id, user_id, created, updated,
            token_checksum, resource)
        VALUES (\(token), \(now.addingTimeInterval(3600)), 'read', \(application), NULL, now(), now(), \(token), '[]')
        RETURNING id
        """
    }

    static func applicationID(_ connection: PostgresConnection, _ clientID: String) async throws -> Int64 {
        try await connection.query("SELECT id FROM oauth2_provider_application WHERE client_id = \(clientID)").rows[0]
            .decode(Int64.self, column: 0)
    }

    static func exists(_ connection: PostgresConnection, application id: Int64) async throws -> Bool {
        try await connection.query("SELECT count(*) FROM oauth2_provider_application WHERE id = \(id)").rows[0]
            .decode(Int64.self, column: 0) == 1
    }

    /// Waits (bounded) until some session of `database` waits on a heavyweight lock.
    static func waitForLockWaiter(_ observer: PostgresConnection, database: String) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let waiting = try await observer.query(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = \(database) AND wait_event_type = 'Lock'"
            ).rows[0].decode(Int64.self, column: 0)
            if waiting > 0 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("no session started waiting on a lock within 20 s")
    }

    @Test("a batch size below 1 is DOT's CommandError; larger than the cap is clamped")
    func batchSizes() throws {
        for size in [0, -1, Int.min] {
            let error = #expect(throws: ClearCIMDApplicationsError.self) { try ClearCIMDApplicationsJob(batchSize: size) }
            #expect(error?.description == "--batch-size must be a positive integer.")
        }
        #expect(try ClearCIMDApplicationsJob(batchSize: Int.max).batchSize == ClearCIMDApplicationsJob.maxBatchSize)
        #expect(ClearCIMDApplicationsJob.parseBatchSize(" +1_000 ") == 1000)
        #expect(ClearCIMDApplicationsJob.parseBatchSize("\u{0661}\u{0662}") == 12)
        #expect(ClearCIMDApplicationsJob.parseBatchSize("99999999999999999999999") == Int.max)
        #expect(ClearCIMDApplicationsJob.parseBatchSize("-99999999999999999999999") == Int.min)
        #expect(ClearCIMDApplicationsJob.parseBatchSize("1.5") == nil)
        #expect(ClearCIMDApplicationsJob.parseBatchSize("") == nil)
    }

    @Test("single flight: a run while another holds the lock does nothing and says so")
    func singleFlight() async throws {
        try await TemporaryDatabase.with(prefix: "cc_lock") { database in
            let connection = try await Self.seeded(database, count: 5)
            let other = try await database.connect()
            #expect(try await other.tryAdvisoryLock(ClearCIMDApplicationsJob.lockKey))
            let error = await #expect(throws: ClearCIMDApplicationsError.self) {
                try await ClearCIMDApplicationsJob().run(on: connection, now: Self.now)
            }
            #expect(error?.code == .alreadyRunning)
            #expect(try await connection.query("SELECT count(*) FROM oauth2_provider_application").rows[0].decode(Int64.self, column: 0) == 5)
            // cleartokens' lock is another key: the two commands do not exclude each other.
            #expect(ClearTokensJob.lockKey != ClearCIMDApplicationsJob.lockKey)
            try await other.advisoryUnlock(ClearCIMDApplicationsJob.lockKey)
            let summary = try await ClearCIMDApplicationsJob().run(on: connection, now: Self.now)
            #expect(summary.deleted == 5)
            // The lock is released after a run.
            #expect(try await other.tryAdvisoryLock(ClearCIMDApplicationsJob.lockKey))
        }
    }

    @Test("a token whose insert took its share lock first keeps its application: the run waits, then sees it")
    func concurrentTokenKeepsApplication() async throws {
        try await TemporaryDatabase.with(prefix: "cc_fk") { database in
            let connection = try await Self.seeded(database, count: 3)
            let target = try await Self.applicationID(connection, "cimd:2")
            let writer = try await database.connect()
            let observer = try await database.connect()
            try await writer.execute("BEGIN")
            try await writer.query(Self.liveAccessToken(target, token: "concurrent"))
            // Django's FKs are deferred; checking now takes the share lock a commit would take.
            try await writer.execute("SET CONSTRAINTS ALL IMMEDIATE")
            let run = Task { try await ClearCIMDApplicationsJob(batchSize: 10).run(on: connection, now: Self.now) }
            try await Self.waitForLockWaiter(observer, database: database.name)
            try await writer.execute("COMMIT")
            let summary = try await run.value
            #expect(summary.deleted == 2)
            #expect(summary.keptLive == 1)
            #expect(try await Self.exists(observer, application: target))
            #expect(try await observer.query("SELECT count(*) FROM oauth2_provider_accesstoken").rows[0].decode(Int64.self, column: 0) == 1)
        }
    }

    @Test("a token still uncommitted when its application is deleted is refused at its commit, never deleted silently")
    func uncommittedTokenFailsItsCommit() async throws {
        try await TemporaryDatabase.with(prefix: "cc_fk2") { database in
            let connection = try await Self.seeded(database, count: 3)
            let target = try await Self.applicationID(connection, "cimd:1")
            let writer = try await database.connect()
            try await writer.execute("BEGIN")
            try await writer.query(Self.liveAccessToken(target, token: "late"))
            let summary = try await ClearCIMDApplicationsJob().run(on: connection, now: Self.now)
            #expect(summary.deleted == 3)
            let error = await #expect(throws: PostgresError.self) { try await writer.execute("COMMIT") }
            #expect(error?.sqlState == .foreignKeyViolation, "\(String(describing: error))")
        }
    }

    @Test("a registration refreshed while its batch waits for the lock is re-checked under the lock and kept")
    func refreshedUnderLock() async throws {
        try await TemporaryDatabase.with(prefix: "cc_re") { database in
            let connection = try await Self.seeded(database, count: 4)
            let target = try await Self.applicationID(connection, "cimd:3")
            let refresher = try await database.connect()
            let observer = try await database.connect()
            try await refresher.execute("BEGIN")
            try await refresher.execute(
                "UPDATE oauth2_provider_application SET cimd_expires_at = \(Self.now.addingTimeInterval(30 * 86400)) WHERE id = \(target)"
            )
            let run = Task { try await ClearCIMDApplicationsJob().run(on: connection, now: Self.now) }
            try await Self.waitForLockWaiter(observer, database: database.name)
            try await refresher.execute("COMMIT")
            let summary = try await run.value
            #expect(summary.examined == 4)
            #expect(summary.changed == 1)
            #expect(summary.deleted == 3)
            #expect(try await Self.exists(observer, application: target))
        }
    }

    @Test("under a concurrent writer minting live tokens for candidates, no committed token is ever deleted")
    func concurrentWriter() async throws {
        try await TemporaryDatabase.with(prefix: "cc_live") { database in
            let connection = try await Self.seeded(database, count: 3000)
            let ids = try await connection.query("SELECT id FROM oauth2_provider_application ORDER BY id").rows.map {
                try $0.decode(Int64.self, column: 0)
            }
            let writer = try await database.connect()
            let done = Flag()
            let writing = Task { () -> (committed: [Int64: Int64], refused: Int) in
                var committed: [Int64: Int64] = [:]  // token id -> application id
                var refused = 0
                var generator = SplitMix64(state: 42)
                var n = 0
                while !done.isSet || n < 50 {
                    n += 1
                    let application = ids[Int(generator.next() % UInt64(ids.count))]
                    do {
                        let id = try await writer.query(Self.liveAccessToken(application, token: "w\(n)")).rows[0]
                            .decode(Int64.self, column: 0)
                        committed[id] = application
                    } catch let error as PostgresError where error.sqlState == .foreignKeyViolation {
                        refused += 1  // its application was deleted first: the insert failed, nothing was lost
                    }
                }
                return (committed, refused)
            }
            let summary = try await ClearCIMDApplicationsJob(batchSize: 20).run(on: connection, now: Self.now)
            done.set()
            let (committed, refused) = try await writing.value
            let remaining = Set(
                try await connection.query("SELECT id FROM oauth2_provider_accesstoken").rows.map { try $0.decode(Int64.self, column: 0) }
            )
            let lost = Set(committed.keys).subtracting(remaining)
            #expect(lost.isEmpty, "\(lost.count) of \(committed.count) committed tokens were deleted")
            let kept = Set(
                try await connection.query("SELECT id FROM oauth2_provider_application").rows.map { try $0.decode(Int64.self, column: 0) }
            )
            let gone = Set(committed.values).subtracting(kept)
            #expect(gone.isEmpty, "\(gone.count) applications holding a committed live token were deleted")
            #expect(summary.deleted + kept.count == 3000)
            #expect(summary.keptLive > 0, "the writer never raced the run: \(committed.count) tokens, \(refused) refused")
            #expect(summary.deleted > 0)
        }
    }
}

/// A one-way flag shared between tasks.
final class Flag: Sendable {
    private let storage = Mutex(false)
    var isSet: Bool { storage.withLock { $0 } }
    func set() { storage.withLock { $0 = true } }
}
