import Foundation
import Postgres

/// The six steps of DOT 3.4.1's `clear_expired()`, in the order it runs them (§2.4).
///
/// Each batch is one statement over a window of at most `batchSize` primary keys — select the
/// matching ids in the window, do Django's SET NULL / CASCADE work, delete — so each batch is its own
/// short transaction, and the windows walk the table once: a step costs one pass over its table, not
/// one full scan per batch as DOT's `COUNT(*)`s do. Rows are locked `FOR UPDATE SKIP LOCKED`, so
/// a row the application holds is left for the next run instead of blocking either side.
public enum ClearTokensStep: String, CaseIterable, Sendable, Codable {
    case revokedRefreshTokens = "revoked_refresh_tokens"
    case orphanedRefreshTokens = "orphaned_refresh_tokens"
    case expiredRefreshTokens = "expired_refresh_tokens"
    case expiredAccessTokens = "expired_access_tokens"
    case expiredIDTokens = "expired_id_tokens"
    case expiredGrants = "expired_grants"

    /// The step's number, 1 to 6.
    public var number: Int { Self.allCases.firstIndex(of: self)! + 1 }

    /// DOT's INFO log line after the step, `nil` deleted meaning the step was skipped.
    public func dotLogLine(deleted: Int?) -> String {
        switch (self, deleted) {
        case (.revokedRefreshTokens, nil): "refresh_revoked_at is None. No revoked refresh tokens deleted."
        case (.expiredRefreshTokens, nil): "refresh_expire_at is None. No expired refresh tokens deleted."
        case (.revokedRefreshTokens, let n?): "\(n) Revoked refresh tokens deleted"
        case (.orphanedRefreshTokens, let n): "\(n ?? 0) Orphaned refresh tokens deleted"
        case (.expiredRefreshTokens, let n?): "\(n) Expired refresh tokens deleted"
        case (.expiredAccessTokens, let n): "\(n ?? 0) Expired access tokens deleted"
        case (.expiredIDTokens, let n): "\(n ?? 0) Expired ID tokens deleted"
        case (.expiredGrants, let n): "\(n ?? 0) Expired grant tokens deleted"
        }
    }

    /// The cutoff the step compares against; nil means DOT skips the step.
    func cutoff(_ cutoffs: ClearTokensCutoffs) -> Date?? {
        switch self {
        case .revokedRefreshTokens: .some(cutoffs.revoked)
        case .expiredRefreshTokens: .some(cutoffs.expire)
        case .orphanedRefreshTokens: .some(nil)  // no cutoff, never skipped
        case .expiredAccessTokens, .expiredIDTokens, .expiredGrants: .some(cutoffs.now)
        }
    }

    /// The table whose primary key the step walks.
    var table: String {
        switch self {
        case .revokedRefreshTokens, .orphanedRefreshTokens, .expiredRefreshTokens: "oauth2_provider_refreshtoken"
        case .expiredAccessTokens: "oauth2_provider_accesstoken"
        case .expiredIDTokens: "oauth2_provider_idtoken"
        case .expiredGrants: "oauth2_provider_grant"
        }
    }

    /// The upper end of the next window: the `size`-th id after `cursor`, or the last id when fewer
    /// remain, or NULL when none do. An index-only scan of `size` entries.
    func windowEnd(after cursor: Int64, size: Int) -> PostgresQuery {
        PostgresQuery(
            unsafeSQL: """
                SELECT coalesce(
                    (SELECT id FROM \(table) WHERE id > $1 ORDER BY id OFFSET $2 - 1 LIMIT 1),
                    (SELECT max(id) FROM \(table) WHERE id > $1))
                """,
            binds: [PostgresBind(cursor), PostgresBind(size)]
        )
    }

    /// One batch over the primary-key window (`low`, `high`]: returns (ids selected, greatest id
    /// selected, rows deleted). The bounds are parameters, so PostgreSQL plans each batch for a window
    /// of known size (index lookups, never a scan of the whole table); the anti-joins repeat the bound
    /// on the inner side's key, which the window implies, so their index scans start at the window too.
    func batch(cutoff: Date?, after low: Int64, through high: Int64) -> PostgresQuery {
        switch self {
        case .revokedRefreshTokens:
            return """
                WITH ids AS (
                    SELECT rt.id FROM oauth2_provider_refreshtoken rt
                    WHERE rt.revoked <= \(cutoff) AND rt.id > \(low) AND rt.id <= \(high)
                    FOR UPDATE SKIP LOCKED
                )
                \(unsafeSQL: Self.deleteRefreshTokens)
                """
        case .orphanedRefreshTokens:
            return """
                WITH ids AS (
                    SELECT rt.id FROM oauth2_provider_refreshtoken rt
                    WHERE rt.access_token_id IS NULL AND rt.revoked IS NULL AND rt.id > \(low) AND rt.id <= \(high)
                    FOR UPDATE SKIP LOCKED
                )
                \(unsafeSQL: Self.deleteRefreshTokens)
                """
        case .expiredRefreshTokens:
            return """
                WITH ids AS (
                    SELECT rt.id FROM oauth2_provider_refreshtoken rt
                    JOIN oauth2_provider_accesstoken at ON rt.access_token_id = at.id
                    WHERE at.expires <= \(cutoff) AND rt.revoked IS NULL AND rt.id > \(low) AND rt.id <= \(high)
                    FOR UPDATE OF rt SKIP LOCKED
                )
                \(unsafeSQL: Self.deleteRefreshTokens)
                """
        case .expiredAccessTokens:
            return """
                WITH ids AS (
                    SELECT at.id FROM oauth2_provider_accesstoken at
                    WHERE at.expires < \(cutoff) AND at.id > \(low) AND at.id <= \(high)
                      AND NOT EXISTS (
                          SELECT 1 FROM oauth2_provider_refreshtoken rt WHERE rt.access_token_id = at.id
                            AND rt.access_token_id > \(low) AND rt.access_token_id <= \(high))
                    FOR UPDATE SKIP LOCKED
                ), unlinked AS (
                    UPDATE oauth2_provider_refreshtoken SET access_token_id = NULL
                    WHERE access_token_id IN (SELECT id FROM ids)
                ), deleted AS (
                    DELETE FROM oauth2_provider_accesstoken WHERE id IN (SELECT id FROM ids) RETURNING 1
                )
                \(unsafeSQL: Self.report)
                """
        case .expiredIDTokens:
            // Django's CASCADE from an ID token to the access tokens naming it (only possible in a race):
            // those access tokens go too, their refresh tokens' access_token_id set to NULL first.
            return """
                WITH ids AS (
                    SELECT idt.id FROM oauth2_provider_idtoken idt
                    WHERE idt.expires < \(cutoff) AND idt.id > \(low) AND idt.id <= \(high)
                      AND NOT EXISTS (
                          SELECT 1 FROM oauth2_provider_accesstoken at WHERE at.id_token_id = idt.id
                            AND at.id_token_id > \(low) AND at.id_token_id <= \(high))
                    FOR UPDATE SKIP LOCKED
                ), cascaded AS (
                    SELECT at.id FROM oauth2_provider_accesstoken at WHERE at.id_token_id IN (SELECT id FROM ids)
                ), unlinked AS (
                    UPDATE oauth2_provider_refreshtoken SET access_token_id = NULL
                    WHERE access_token_id IN (SELECT id FROM cascaded)
                ), cascade_deleted AS (
                    DELETE FROM oauth2_provider_accesstoken WHERE id IN (SELECT id FROM cascaded)
                ), deleted AS (
                    DELETE FROM oauth2_provider_idtoken WHERE id IN (SELECT id FROM ids) RETURNING 1
                )
                \(unsafeSQL: Self.report)
                """
        case .expiredGrants:
            return """
                WITH ids AS (
                    SELECT g.id FROM oauth2_provider_grant g
                    WHERE g.expires < \(cutoff) AND g.id > \(low) AND g.id <= \(high)
                    FOR UPDATE SKIP LOCKED
                ), deleted AS (
                    DELETE FROM oauth2_provider_grant WHERE id IN (SELECT id FROM ids) RETURNING 1
                )
                \(unsafeSQL: Self.report)
                """
        }
    }

    /// Django's delete of refresh tokens `ids`: SET NULL on the access tokens minted from them, then
    /// the delete; shared by steps 1–3. Static SQL, no values.
    static let deleteRefreshTokens = """
        , unlinked AS (
            UPDATE oauth2_provider_accesstoken SET source_refresh_token_id = NULL
            WHERE source_refresh_token_id IN (SELECT id FROM ids)
        ), deleted AS (
            DELETE FROM oauth2_provider_refreshtoken WHERE id IN (SELECT id FROM ids) RETURNING 1
        )
        \(report)
        """

    /// Every batch returns (ids selected, greatest id selected, rows deleted).
    static let report = """
        SELECT (SELECT count(*) FROM ids), (SELECT coalesce(max(id), 0) FROM ids), (SELECT count(*) FROM deleted)
        """

    /// For `--dry-run`: how many rows the step would delete, given that the earlier steps of the same
    /// run would have deleted theirs. Read-only; the six counts are taken in one snapshot.
    func dryRunCount(_ c: ClearTokensCutoffs) -> PostgresQuery {
        // A refresh token survives steps 1–3 when it is neither revoked at/before the revoked cutoff,
        // nor an orphan, nor live with its access token expired at/before the expiry cutoff.
        switch self {
        case .revokedRefreshTokens:
            return "SELECT count(*) FROM oauth2_provider_refreshtoken rt WHERE rt.revoked <= \(c.revoked)"
        case .orphanedRefreshTokens:
            return """
                SELECT count(*) FROM oauth2_provider_refreshtoken rt
                WHERE rt.access_token_id IS NULL AND rt.revoked IS NULL
                """
        case .expiredRefreshTokens:
            return """
                SELECT count(*) FROM oauth2_provider_refreshtoken rt
                JOIN oauth2_provider_accesstoken at ON rt.access_token_id = at.id
                WHERE at.expires <= \(c.expire) AND rt.revoked IS NULL
                """
        case .expiredAccessTokens:
            return """
                SELECT count(*) FROM oauth2_provider_accesstoken at
                WHERE at.expires < \(c.now) AND NOT EXISTS (
                    SELECT 1 FROM oauth2_provider_refreshtoken rt WHERE rt.access_token_id = at.id
                      AND (rt.revoked <= \(c.revoked)) IS NOT TRUE
                      AND (rt.revoked IS NULL AND at.expires <= \(c.expire)) IS NOT TRUE)
                """
        case .expiredIDTokens:
            return """
                SELECT count(*) FROM oauth2_provider_idtoken idt
                WHERE idt.expires < \(c.now) AND NOT EXISTS (
                    SELECT 1 FROM oauth2_provider_accesstoken at WHERE at.id_token_id = idt.id
                      AND NOT (at.expires < \(c.now) AND NOT EXISTS (
                          SELECT 1 FROM oauth2_provider_refreshtoken rt WHERE rt.access_token_id = at.id
                            AND (rt.revoked <= \(c.revoked)) IS NOT TRUE
                            AND (rt.revoked IS NULL AND at.expires <= \(c.expire)) IS NOT TRUE)))
                """
        case .expiredGrants:
            return "SELECT count(*) FROM oauth2_provider_grant g WHERE g.expires < \(c.now)"
        }
    }
}
