import Postgres

/// A pass over one table in fixed primary-key windows of `batchSize` ids, like the hand-written SQL
/// floor: each batch is one statement and one transaction — delete the window's matching rows, do
/// Django's SET NULL / CASCADE work for them, and say where the next window starts — so a batch costs
/// time proportional to its window, never to the table, and the pass visits each row once.
///
/// Steps 1–3 share one pass over the refresh tokens: their filters are disjoint (step 1 takes revoked
/// rows, steps 2 and 3 only unrevoked ones; step 2 those without an access token, step 3 those with
/// one) and none of them changes a column another one reads, so deleting the union window by window
/// removes exactly the rows the three steps remove one after the other (the differential tests hold
/// this against DOT). The counts stay per step.
///
/// No row is locked before it is deleted: the `DELETE` itself takes the lock, and when the application
/// changed a row meanwhile PostgreSQL re-checks the row's own filter against its new version.
enum ClearTokensWalk: CaseIterable, Sendable {
    case refreshTokens
    case accessTokens
    case idTokens
    case grants

    /// The steps this pass performs, in DOT's order; the batch returns one count for each.
    var steps: [ClearTokensStep] {
        switch self {
        case .refreshTokens: [.revokedRefreshTokens, .orphanedRefreshTokens, .expiredRefreshTokens]
        case .accessTokens: [.expiredAccessTokens]
        case .idTokens: [.expiredIDTokens]
        case .grants: [.expiredGrants]
        }
    }

    /// The pass that performs `step`.
    static func pass(for step: ClearTokensStep) -> ClearTokensWalk {
        allCases.first { $0.steps.contains(step) }!
    }

    var table: String {
        switch self {
        case .refreshTokens: "oauth2_provider_refreshtoken"
        case .accessTokens: "oauth2_provider_accesstoken"
        case .idTokens: "oauth2_provider_idtoken"
        case .grants: "oauth2_provider_grant"
        }
    }

    /// The smallest and largest id (NULLs for an empty table): where the walk starts, and what its
    /// progress is measured against (both are one probe of the primary key index).
    var idRange: PostgresQuery {
        PostgresQuery(unsafeSQL: "SELECT min(id), max(id) FROM \(table)")
    }

    /// One batch over the ids `low...high`: returns the rows deleted for each of ``steps``, then the
    /// next id after the window (NULL when none is left), so gaps in the ids cost nothing.
    ///
    /// The subqueries that look at another table end in `OFFSET 0`, which keeps PostgreSQL from turning
    /// them into a join: each stays one index probe per row of the window, never a scan of the other
    /// table.
    func batch(_ c: ClearTokensCutoffs, from low: Int64, through high: Int64) -> PostgresQuery {
        switch self {
        case .refreshTokens:
            // A NULL cutoff makes its comparison NULL: that step's rows are simply not matched.
            return """
                WITH deleted AS (
                    DELETE FROM oauth2_provider_refreshtoken rt
                    WHERE rt.id >= \(low) AND rt.id <= \(high)
                      AND (rt.revoked <= \(c.revoked)
                           OR (rt.revoked IS NULL AND rt.access_token_id IS NULL)
                           OR (rt.revoked IS NULL AND EXISTS (
                                   SELECT 1 FROM oauth2_provider_accesstoken at
                                   WHERE at.id = rt.access_token_id AND at.expires <= \(c.expire) OFFSET 0)))
                    RETURNING rt.id, rt.revoked IS NOT NULL AS revoked, rt.access_token_id IS NULL AS orphaned
                )\(unsafeSQL: ClearTokensSQL.unlinkAccessTokens)
                SELECT count(*) FILTER (WHERE revoked), count(*) FILTER (WHERE NOT revoked AND orphaned),
                       count(*) FILTER (WHERE NOT revoked AND NOT orphaned),
                       (SELECT min(id) FROM oauth2_provider_refreshtoken WHERE id > \(high))
                FROM deleted
                """
        case .accessTokens:
            return """
                WITH deleted AS (
                    DELETE FROM oauth2_provider_accesstoken at
                    WHERE at.id >= \(low) AND at.id <= \(high) AND at.expires < \(c.now)
                      AND NOT EXISTS (
                          SELECT 1 FROM oauth2_provider_refreshtoken rt WHERE rt.access_token_id = at.id OFFSET 0)
                    RETURNING at.id
                )\(unsafeSQL: ClearTokensSQL.unlinkRefreshTokens)
                SELECT count(*), (SELECT min(id) FROM oauth2_provider_accesstoken WHERE id > \(high)) FROM deleted
                """
        case .idTokens:
            return """
                WITH deleted AS (
                    DELETE FROM oauth2_provider_idtoken idt
                    WHERE idt.id >= \(low) AND idt.id <= \(high) AND idt.expires < \(c.now)
                      AND NOT EXISTS (
                          SELECT 1 FROM oauth2_provider_accesstoken at WHERE at.id_token_id = idt.id OFFSET 0)
                    RETURNING idt.id
                )\(unsafeSQL: ClearTokensSQL.cascadeToAccessTokens)
                SELECT count(*), (SELECT min(id) FROM oauth2_provider_idtoken WHERE id > \(high)) FROM deleted
                """
        case .grants:
            return """
                WITH deleted AS (
                    DELETE FROM oauth2_provider_grant g
                    WHERE g.id >= \(low) AND g.id <= \(high) AND g.expires < \(c.now)
                    RETURNING g.id
                )
                SELECT count(*), (SELECT min(id) FROM oauth2_provider_grant WHERE id > \(high)) FROM deleted
                """
        }
    }
}

/// Django's on-delete work for a `deleted (id)` CTE of the statement it follows: static SQL, no values.
enum ClearTokensSQL {
    /// Refresh tokens deleted: SET NULL on the access tokens minted from them.
    static let unlinkAccessTokens = """
        , unlinked AS (
            UPDATE oauth2_provider_accesstoken SET source_refresh_token_id = NULL
            WHERE source_refresh_token_id IN (SELECT id FROM deleted)
        )
        """

    /// Access tokens deleted: SET NULL on the refresh tokens naming them.
    static let unlinkRefreshTokens = """
        , unlinked AS (
            UPDATE oauth2_provider_refreshtoken SET access_token_id = NULL
            WHERE access_token_id IN (SELECT id FROM deleted)
        )
        """

    /// ID tokens deleted: Django's CASCADE to the access tokens naming them (only possible in a race),
    /// their refresh tokens' `access_token_id` set to NULL first.
    static let cascadeToAccessTokens = """
        , cascaded AS (
            SELECT at.id FROM oauth2_provider_accesstoken at WHERE at.id_token_id IN (SELECT id FROM deleted)
        ), cascade_unlinked AS (
            UPDATE oauth2_provider_refreshtoken SET access_token_id = NULL
            WHERE access_token_id IN (SELECT id FROM cascaded)
        ), cascade_deleted AS (
            DELETE FROM oauth2_provider_accesstoken WHERE id IN (SELECT id FROM cascaded)
        )
        """
}
