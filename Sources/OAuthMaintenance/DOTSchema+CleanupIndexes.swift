public import Postgres

extension DOTSchema {
    /// An index that DOT does not create but that makes each `cleartokens` step cost time proportional to
    /// the rows it deletes instead of a full scan of the table (DOT has no index on any `expires` column
    /// nor on `refreshtoken.revoked`).
    public struct CleanupIndex: Sendable {
        /// The index name (prefixed `oauthq_`, so it is never confused with Django's).
        public let name: String
        /// The `cleartokens` steps it serves.
        public let serves: String
        let definition: String
    }

    /// The opt-in cleanup indexes (`oauthq migrate --cleanup-indexes`).
    public static let cleanupIndexes: [CleanupIndex] = [
        CleanupIndex(
            name: "oauthq_rt_revoked_idx", serves: "1 (revoked refresh tokens)",
            definition: "oauth2_provider_refreshtoken (revoked) WHERE revoked IS NOT NULL"
        ),
        CleanupIndex(
            name: "oauthq_rt_orphan_idx", serves: "2 (orphaned refresh tokens)",
            definition: "oauth2_provider_refreshtoken (id) WHERE access_token_id IS NULL AND revoked IS NULL"
        ),
        CleanupIndex(
            name: "oauthq_at_expires_idx", serves: "3, 4 (idle-expired refresh tokens, expired access tokens)",
            definition: "oauth2_provider_accesstoken (expires)"
        ),
        CleanupIndex(
            name: "oauthq_idt_expires_idx", serves: "5 (expired ID tokens)",
            definition: "oauth2_provider_idtoken (expires)"
        ),
        CleanupIndex(
            name: "oauthq_grant_expires_idx", serves: "6 (expired grants)",
            definition: "oauth2_provider_grant (expires)"
        ),
    ]

    /// Creates the cleanup indexes that are missing, each with `CREATE INDEX CONCURRENTLY` so the
    /// application's writes are never blocked. An index left invalid by an interrupted concurrent build
    /// is dropped and built again.
    /// - Returns: the names of the indexes built by this call.
    @discardableResult
    public static func createCleanupIndexes(on connection: PostgresConnection) async throws -> [String] {
        var built: [String] = []
        for index in cleanupIndexes {
            let state = try await connection.query(
                """
                SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
                JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = current_schema() AND c.relname = \(index.name)
                """
            ).rows.first
            if let state {
                if try state.decode(Bool.self, column: 0) { continue }
                try await connection.execute(PostgresQuery(unsafeSQL: "DROP INDEX CONCURRENTLY \(index.name)"))
            }
            try await connection.execute(
                PostgresQuery(unsafeSQL: "CREATE INDEX CONCURRENTLY \(index.name) ON \(index.definition)")
            )
            built.append(index.name)
        }
        return built
    }
}
