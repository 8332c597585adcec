import CivilCalendar
public import Foundation
public import Postgres
import PythonCompat

/// `clearcimdapplications`: DOT 3.4.1's command of that name. It deletes the applications registered
/// from a Client ID Metadata Document (`registration_source = 'cimd'`) whose cached document expired
/// (`cimd_expires_at < now`) and that hold no live access token, ID token or grant (`expires > now`)
/// and no unrevoked refresh token, with Django's CASCADE / SET NULL work on the rows naming them.
///
/// The walk is DOT's: pages of candidate ids in primary-key order (a cursor, so an attacker-sized
/// candidate set is never materialised), and for each page one transaction that locks the candidates
/// (`FOR UPDATE`), re-checks that they are still expired CIMD rows, and only then — in a statement
/// that starts after the lock is held — checks for live tokens and deletes. A token inserted
/// concurrently for a locked application needs a share lock on the application row for its foreign
/// key check, so it is either visible to that statement (and keeps the application) or its insert
/// waits for this transaction and then fails on the deleted application: it is never cascade-deleted.
public struct ClearCIMDApplicationsJob: Sendable {
    /// The task name on the queue.
    public static let jobName = "clearcimdapplications"
    /// PostgreSQL session advisory lock key for single flight across every worker and machine.
    public static let lockKey: Int64 = 0x6F61_7574_6871_6363  // "oauthqcc"
    /// DOT's default `--batch-size`.
    public static let defaultBatchSize = 1000
    /// Larger batch sizes are clamped to this: a batch is one transaction holding row locks on that
    /// many applications, and its ids travel as one parameter. The rows left are the same as with
    /// DOT's larger batch unless an ID token of one candidate is named by another candidate's access
    /// token, where DOT's own result depends on the batch boundaries too.
    public static let maxBatchSize = 100_000

    /// Applications locked and deleted per transaction.
    public let batchSize: Int
    /// Where DOT's models live.
    public let tables: DOTTables

    /// - Throws: `.invalidBatchSize` below 1, DOT's `CommandError`. Larger than ``maxBatchSize`` is clamped.
    public init(batchSize: Int = defaultBatchSize, tables: DOTTables = .standard) throws(ClearCIMDApplicationsError) {
        guard batchSize >= 1 else { throw ClearCIMDApplicationsError(code: .invalidBatchSize) }
        self.batchSize = min(batchSize, Self.maxBatchSize)
        self.tables = tables
    }

    /// A batch size as Python's `int()` (argparse's `type=int`) reads it, saturated to `Int`'s range;
    /// nil where argparse rejects the text (a usage error).
    public static func parseBatchSize(_ text: String) -> Int? {
        guard let value = PythonInteger(parsing: text) else { return nil }
        if let exact = Int(value.canonicalDecimal) { return exact }
        return value.isNegative ? Int.min : Int.max
    }

    /// Runs the command once.
    ///
    /// - Parameters:
    ///   - connection: used for every statement; the advisory lock is held on it for the whole run.
    ///   - now: the run's single instant (DOT reads the app server's clock once).
    ///   - progress: called after every batch.
    /// - Throws: ``ClearCIMDApplicationsError`` (`.alreadyRunning`) when another run holds the lock;
    ///   `PostgresError` from the server; `CancellationError` between batches when the task is cancelled
    ///   (finished batches stay committed, as with DOT's own command interrupted).
    public func run(
        on connection: PostgresConnection,
        now: Date = Date(),
        progress: @Sendable (MaintenanceProgress) -> Void = { _ in }
    ) async throws -> ClearCIMDApplicationsSummary {
        let started = ContinuousClock.now
        guard try await connection.tryAdvisoryLock(Self.lockKey) else {
            throw ClearCIMDApplicationsError(code: .alreadyRunning)
        }
        var summary = ClearCIMDApplicationsSummary(
            deleted: 0, examined: 0, keptLive: 0, changed: 0, cascaded: .init(), batches: 0, batchSize: batchSize,
            now: ClearTokensJob.iso8601(now), seconds: 0
        )
        do {
            try await clear(on: connection, now: now, into: &summary, progress: progress)
        } catch {
            try? await connection.advisoryUnlock(Self.lockKey)
            throw error
        }
        try await connection.advisoryUnlock(Self.lockKey)
        summary.seconds = (ContinuousClock.now - started).seconds
        return summary
    }

    private func clear(
        on connection: PostgresConnection,
        now: Date,
        into summary: inout ClearCIMDApplicationsSummary,
        progress: @Sendable (MaintenanceProgress) -> Void
    ) async throws {
        let top = try await connection.run("SELECT max(id) FROM \(identifier: tables.application)").rows.first?
            .decode(Int64?.self, column: 0) ?? nil
        var first: Int64?
        var last: Int64?
        while true {
            try Task.checkCancellation()
            let page = try await connection.run(candidates(now: now, after: last)).rows.map {
                try $0.decode(Int64.self, column: 0)
            }
            guard let pageLast = page.last else { break }
            first = first ?? page[0]
            last = pageLast
            let outcome = try await batch(page, now: now, on: connection)
            summary.batches += 1
            summary.examined += page.count
            summary.changed += page.count - outcome.locked
            summary.keptLive += outcome.locked - outcome.deleted
            summary.deleted += outcome.deleted
            summary.cascaded.accessTokens += outcome.cascaded.accessTokens
            summary.cascaded.refreshTokens += outcome.cascaded.refreshTokens
            summary.cascaded.idTokens += outcome.cascaded.idTokens
            summary.cascaded.grants += outcome.cascaded.grants
            progress(
                MaintenanceProgress(
                    step: Self.jobName, deleted: summary.deleted, batches: summary.batches,
                    fraction: MaintenanceProgress.fraction(of: pageLast, from: first ?? pageLast, through: max(top ?? pageLast, pageLast))
                )
            )
        }
    }

    /// The next page of candidates after `last`, in primary-key order (outside any transaction, as DOT).
    func candidates(now: Date, after last: Int64?) -> PostgresQuery {
        """
        SELECT a.id FROM \(identifier: tables.application) a
        WHERE a.registration_source = 'cimd' AND a.cimd_expires_at < \(now)
          AND (\(last == nil) OR a.id > \(last ?? 0))
        ORDER BY a.id LIMIT \(batchSize)
        """
    }

    /// The page's candidates that are still expired CIMD rows, locked (DOT's `select_for_update`).
    func lock(_ ids: String, now: Date) -> PostgresQuery {
        """
        SELECT a.id FROM \(identifier: tables.application) a
        WHERE a.id = ANY(\(ids)::bigint[]) AND a.registration_source = 'cimd' AND a.cimd_expires_at < \(now)
        ORDER BY a.id FOR UPDATE
        """
    }

    /// Deletes the locked applications that hold nothing live, with Django's on-delete work, in one
    /// statement (so every part sees the same rows): CASCADE to their access tokens, refresh tokens,
    /// ID tokens and grants, CASCADE from those ID tokens to the access tokens naming them, SET NULL
    /// on the surviving refresh tokens naming a deleted access token and on the surviving access tokens
    /// minted from a deleted refresh token. Returns (applications, access tokens, refresh tokens,
    /// ID tokens, grants) deleted.
    func prune(_ ids: String, now: Date) -> PostgresQuery {
        let app = PostgresQuery.quoteIdentifier(tables.application)
        let at = PostgresQuery.quoteIdentifier(tables.accessToken)
        let rt = PostgresQuery.quoteIdentifier(tables.refreshToken)
        let idt = PostgresQuery.quoteIdentifier(tables.idToken)
        let grant = PostgresQuery.quoteIdentifier(tables.grant)
        return """
            WITH prunable AS (
                SELECT a.id FROM \(unsafeSQL: app) a
                WHERE a.id = ANY(\(ids)::bigint[])
                  AND NOT EXISTS (SELECT 1 FROM \(unsafeSQL: at) t WHERE t.application_id = a.id AND t.expires > \(now))
                  AND NOT EXISTS (SELECT 1 FROM \(unsafeSQL: idt) t WHERE t.application_id = a.id AND t.expires > \(now))
                  AND NOT EXISTS (SELECT 1 FROM \(unsafeSQL: grant) t WHERE t.application_id = a.id AND t.expires > \(now))
                  AND NOT EXISTS (SELECT 1 FROM \(unsafeSQL: rt) t WHERE t.application_id = a.id AND t.revoked IS NULL)
            ), del_idt AS (
                DELETE FROM \(unsafeSQL: idt) WHERE application_id IN (SELECT id FROM prunable) RETURNING id
            ), del_rt AS (
                DELETE FROM \(unsafeSQL: rt) WHERE application_id IN (SELECT id FROM prunable) RETURNING id
            ), del_at AS (
                DELETE FROM \(unsafeSQL: at)
                WHERE application_id IN (SELECT id FROM prunable) OR id_token_id IN (SELECT id FROM del_idt)
                RETURNING id
            ), del_grant AS (
                DELETE FROM \(unsafeSQL: grant) WHERE application_id IN (SELECT id FROM prunable) RETURNING id
            ), unlink_rt AS (
                UPDATE \(unsafeSQL: rt) SET access_token_id = NULL
                WHERE access_token_id IN (SELECT id FROM del_at) AND id NOT IN (SELECT id FROM del_rt)
            ), unlink_at AS (
                UPDATE \(unsafeSQL: at) SET source_refresh_token_id = NULL
                WHERE source_refresh_token_id IN (SELECT id FROM del_rt) AND id NOT IN (SELECT id FROM del_at)
            ), del_app AS (
                DELETE FROM \(unsafeSQL: app) WHERE id IN (SELECT id FROM prunable) RETURNING id
            )
            SELECT (SELECT count(*) FROM del_app), (SELECT count(*) FROM del_at), (SELECT count(*) FROM del_rt),
                   (SELECT count(*) FROM del_idt), (SELECT count(*) FROM del_grant)
            """
    }

    struct BatchOutcome: Sendable {
        var locked = 0
        var deleted = 0
        var cascaded = ClearCIMDApplicationsSummary.Cascaded()
    }

    /// One page in one transaction: lock and re-check, then prune. Rerun when PostgreSQL chose it as a
    /// deadlock victim or failed it on a serialization conflict (it rolled back, so a rerun is safe).
    private func batch(_ page: [Int64], now: Date, on connection: PostgresConnection) async throws -> BatchOutcome {
        let ids = "{" + page.map(String.init).joined(separator: ",") + "}"
        let lockQuery = lock(ids, now: now)
        var attempt = 0
        while true {
            do {
                return try await connection.transaction { [self] conn in
                    let locked = try conn.query(lockQuery).rows.map { try $0.decode(Int64.self, column: 0) }
                    var outcome = BatchOutcome(locked: locked.count)
                    guard !locked.isEmpty else { return outcome }
                    let lockedIDs = "{" + locked.map(String.init).joined(separator: ",") + "}"
                    guard let row = try conn.query(prune(lockedIDs, now: now)).rows.first else {
                        throw PostgresError(.decoding, message: "a clearcimdapplications batch returned no row")
                    }
                    outcome.deleted = Int(try row.decode(Int64.self, column: 0))
                    outcome.cascaded.accessTokens = Int(try row.decode(Int64.self, column: 1))
                    outcome.cascaded.refreshTokens = Int(try row.decode(Int64.self, column: 2))
                    outcome.cascaded.idTokens = Int(try row.decode(Int64.self, column: 3))
                    outcome.cascaded.grants = Int(try row.decode(Int64.self, column: 4))
                    return outcome
                }
            } catch let error as PostgresError
                where attempt < 3 && (error.sqlState == .deadlockDetected || error.sqlState == .serializationFailure)
            {
                attempt += 1
                try await Task.sleep(for: .milliseconds(20 * attempt))
            }
        }
    }
}
