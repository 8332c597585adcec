import Foundation
import Postgres

/// Where an index-driven step continues: the last row it picked, by the index's key and id.
struct ClearTokensCursor: Sendable, Equatable {
    var key: Date?
    var id: Int64
}

/// The steps driven by the opt-in cleanup indexes (`oauthq migrate --cleanup-indexes`): instead of
/// walking the whole table, each batch picks the next `limit` matching rows in index order after the
/// cursor (keyset on `(key, id)`, so no entry is read twice and dead entries of earlier batches are
/// never waded through), then deletes them with Django's SET NULL / CASCADE work, in one statement.
extension ClearTokensStep {
    /// The cleanup indexes the step needs (see `DOTSchema.cleanupIndexes`).
    var cleanupIndexes: [String] {
        switch self {
        case .revokedRefreshTokens: ["oauthq_rt_revoked_idx"]
        case .orphanedRefreshTokens: ["oauthq_rt_orphan_idx"]
        case .expiredRefreshTokens, .expiredAccessTokens: ["oauthq_at_expires_idx"]
        case .expiredIDTokens: ["oauthq_idt_expires_idx"]
        case .expiredGrants: ["oauthq_grant_expires_idx"]
        }
    }

    /// How many rows the step may delete, counting at most `limit` of them through its cleanup index:
    /// the probe that decides between the index and the walk, cheap because it stops at `limit`.
    func candidateCount(_ c: ClearTokensCutoffs, limit: Int) -> PostgresQuery {
        switch self {
        case .revokedRefreshTokens:
            "SELECT count(*) FROM (SELECT 1 FROM oauth2_provider_refreshtoken WHERE revoked <= \(c.revoked) LIMIT \(limit)) s"
        case .orphanedRefreshTokens:
            """
            SELECT count(*) FROM (SELECT 1 FROM oauth2_provider_refreshtoken
                                  WHERE access_token_id IS NULL AND revoked IS NULL LIMIT \(limit)) s
            """
        case .expiredRefreshTokens:
            "SELECT count(*) FROM (SELECT 1 FROM oauth2_provider_accesstoken WHERE expires <= \(c.expire) LIMIT \(limit)) s"
        case .expiredAccessTokens:
            "SELECT count(*) FROM (SELECT 1 FROM oauth2_provider_accesstoken WHERE expires < \(c.now) LIMIT \(limit)) s"
        case .expiredIDTokens:
            "SELECT count(*) FROM (SELECT 1 FROM oauth2_provider_idtoken WHERE expires < \(c.now) LIMIT \(limit)) s"
        case .expiredGrants:
            "SELECT count(*) FROM (SELECT 1 FROM oauth2_provider_grant WHERE expires < \(c.now) LIMIT \(limit)) s"
        }
    }

    /// The planner's row estimate of the table the step's walk would read (negative when unknown).
    var walkedTableRows: PostgresQuery {
        PostgresQuery(
            unsafeSQL: "SELECT reltuples::float8 FROM pg_class WHERE oid = '\(ClearTokensWalk.pass(for: self).table)'::regclass"
        )
    }

    /// One index-driven batch. Returns one row: rows picked, rows deleted, and the cursor after the
    /// last picked row (its key and id). Fewer than `limit` picked means the step is done.
    func indexedBatch(_ c: ClearTokensCutoffs, after cursor: ClearTokensCursor?, limit: Int) -> PostgresQuery {
        let first = cursor == nil
        let key = cursor?.key
        let id = cursor?.id ?? 0
        switch self {
        case .revokedRefreshTokens:
            return """
                WITH picked AS (
                    SELECT rt.id, rt.revoked AS key, rt.id AS kid FROM oauth2_provider_refreshtoken rt
                    WHERE rt.revoked <= \(c.revoked) AND (\(first) OR (rt.revoked, rt.id) > (\(key), \(id)))
                    ORDER BY rt.revoked, rt.id LIMIT \(limit)
                ), deleted AS (
                    DELETE FROM oauth2_provider_refreshtoken rt
                    WHERE rt.id IN (SELECT id FROM picked) AND rt.revoked <= \(c.revoked) RETURNING rt.id
                )\(unsafeSQL: ClearTokensSQL.unlinkAccessTokens)
                \(unsafeSQL: Self.indexedReport)
                """
        case .orphanedRefreshTokens:
            return """
                WITH picked AS (
                    SELECT rt.id, NULL::timestamptz AS key, rt.id AS kid FROM oauth2_provider_refreshtoken rt
                    WHERE rt.access_token_id IS NULL AND rt.revoked IS NULL AND rt.id > \(id)
                    ORDER BY rt.id LIMIT \(limit)
                ), deleted AS (
                    DELETE FROM oauth2_provider_refreshtoken rt
                    WHERE rt.id IN (SELECT id FROM picked) AND rt.access_token_id IS NULL AND rt.revoked IS NULL
                    RETURNING rt.id
                )\(unsafeSQL: ClearTokensSQL.unlinkAccessTokens)
                \(unsafeSQL: Self.indexedReport)
                """
        case .expiredRefreshTokens:
            // Walks the expired access tokens by `(expires, id)`; the refresh token naming each one is
            // one probe of its unique index (the LATERAL subquery, kept a probe by OFFSET 0).
            return """
                WITH picked AS (
                    SELECT r.id, a.expires AS key, a.id AS kid
                    FROM (SELECT at.id, at.expires FROM oauth2_provider_accesstoken at
                          WHERE at.expires <= \(c.expire) AND (\(first) OR (at.expires, at.id) > (\(key), \(id)))) a
                    CROSS JOIN LATERAL (
                        SELECT rt.id FROM oauth2_provider_refreshtoken rt
                        WHERE rt.access_token_id = a.id AND rt.revoked IS NULL OFFSET 0) r
                    ORDER BY a.expires, a.id LIMIT \(limit)
                ), deleted AS (
                    DELETE FROM oauth2_provider_refreshtoken rt
                    WHERE rt.id IN (SELECT id FROM picked) AND rt.revoked IS NULL RETURNING rt.id
                )\(unsafeSQL: ClearTokensSQL.unlinkAccessTokens)
                \(unsafeSQL: Self.indexedReport)
                """
        case .expiredAccessTokens:
            return """
                WITH picked AS (
                    SELECT at.id, at.expires AS key, at.id AS kid FROM oauth2_provider_accesstoken at
                    WHERE at.expires < \(c.now) AND (\(first) OR (at.expires, at.id) > (\(key), \(id)))
                      AND NOT EXISTS (
                          SELECT 1 FROM oauth2_provider_refreshtoken rt WHERE rt.access_token_id = at.id OFFSET 0)
                    ORDER BY at.expires, at.id LIMIT \(limit)
                ), deleted AS (
                    DELETE FROM oauth2_provider_accesstoken at
                    WHERE at.id IN (SELECT id FROM picked) AND at.expires < \(c.now) RETURNING at.id
                )\(unsafeSQL: ClearTokensSQL.unlinkRefreshTokens)
                \(unsafeSQL: Self.indexedReport)
                """
        case .expiredIDTokens:
            return """
                WITH picked AS (
                    SELECT idt.id, idt.expires AS key, idt.id AS kid FROM oauth2_provider_idtoken idt
                    WHERE idt.expires < \(c.now) AND (\(first) OR (idt.expires, idt.id) > (\(key), \(id)))
                      AND NOT EXISTS (
                          SELECT 1 FROM oauth2_provider_accesstoken at WHERE at.id_token_id = idt.id OFFSET 0)
                    ORDER BY idt.expires, idt.id LIMIT \(limit)
                ), deleted AS (
                    DELETE FROM oauth2_provider_idtoken idt
                    WHERE idt.id IN (SELECT id FROM picked) AND idt.expires < \(c.now) RETURNING idt.id
                )\(unsafeSQL: ClearTokensSQL.cascadeToAccessTokens)
                \(unsafeSQL: Self.indexedReport)
                """
        case .expiredGrants:
            return """
                WITH picked AS (
                    SELECT g.id, g.expires AS key, g.id AS kid FROM oauth2_provider_grant g
                    WHERE g.expires < \(c.now) AND (\(first) OR (g.expires, g.id) > (\(key), \(id)))
                    ORDER BY g.expires, g.id LIMIT \(limit)
                ), deleted AS (
                    DELETE FROM oauth2_provider_grant g
                    WHERE g.id IN (SELECT id FROM picked) AND g.expires < \(c.now) RETURNING g.id
                )
                \(unsafeSQL: Self.indexedReport)
                """
        }
    }

    /// Every index-driven batch returns (rows picked, rows deleted, cursor key, cursor id).
    static let indexedReport = """
        SELECT (SELECT count(*) FROM picked), (SELECT count(*) FROM deleted),
               (SELECT key FROM picked ORDER BY key DESC, kid DESC LIMIT 1),
               (SELECT kid FROM picked ORDER BY key DESC, kid DESC LIMIT 1)
        """
}
