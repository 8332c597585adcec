import Foundation
import Postgres

/// The six steps of DOT 3.4.1's `clear_expired()`, in the order it runs them.
///
/// How the rows are visited is ``ClearTokensWalk`` (primary-key windows; steps 1–3 share one pass)
/// or, where the opt-in cleanup indexes exist, ``ClearTokensIndexScan``.
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

    /// Whether DOT skips the step for these cutoffs (step 1 without a revoked cutoff, step 3 without
    /// an expiry).
    func isSkipped(_ cutoffs: ClearTokensCutoffs) -> Bool {
        switch self {
        case .revokedRefreshTokens: cutoffs.revoked == nil
        case .expiredRefreshTokens: cutoffs.expire == nil
        default: false
        }
    }

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
