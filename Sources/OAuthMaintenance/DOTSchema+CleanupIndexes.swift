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
            definition: "oauth2_provider_refreshtoken (revoked, id) WHERE revoked IS NOT NULL"
        ),
        CleanupIndex(
            name: "oauthq_rt_orphan_idx", serves: "2 (orphaned refresh tokens)",
            definition: "oauth2_provider_refreshtoken (id) WHERE access_token_id IS NULL AND revoked IS NULL"
        ),
        CleanupIndex(
            name: "oauthq_at_expires_idx", serves: "3, 4 (idle-expired refresh tokens, expired access tokens)",
            definition: "oauth2_provider_accesstoken (expires, id)"
        ),
        CleanupIndex(
            name: "oauthq_idt_expires_idx", serves: "5 (expired ID tokens)",
            definition: "oauth2_provider_idtoken (expires, id)"
        ),
        CleanupIndex(
            name: "oauthq_grant_expires_idx", serves: "6 (expired grants)",
            definition: "oauth2_provider_grant (expires, id)"
        ),
    ]

    /// Creates the cleanup indexes that are missing, each with `CREATE INDEX CONCURRENTLY` so the
    /// application's writes are never blocked. An index left invalid by an interrupted concurrent build,
    /// or built by an earlier oauthq on other columns, is dropped and built again.
    /// - Returns: the names of the indexes built by this call.
    @discardableResult
    public static func createCleanupIndexes(on connection: PostgresConnection, tables: DOTTables = .standard) async throws -> [String] {
        let present = try await cleanupIndexStates(on: connection)
        var built: [String] = []
        for index in cleanupIndexes {
            if let state = present[index.name] {
                let table = tables.rewrite(sql: index.table).filter { $0 != "\"" }
                if state.valid && state.columns == index.columns && state.table == table { continue }
                try await connection.execute(PostgresQuery(unsafeSQL: "DROP INDEX CONCURRENTLY \(index.name)"))
            }
            try await connection.execute(
                PostgresQuery(unsafeSQL: "CREATE INDEX CONCURRENTLY \(index.name) ON \(tables.rewrite(sql: index.definition))")
            )
            built.append(index.name)
        }
        return built
    }

    /// The names of the cleanup indexes that exist, are valid and have the current columns: the ones
    /// `cleartokens` may drive its steps with.
    public static func validCleanupIndexes(on connection: PostgresConnection, tables: DOTTables = .standard) async throws -> Set<String> {
        let present = try await cleanupIndexStates(on: connection)
        return Set(
            cleanupIndexes.filter {
                present[$0.name] == .init(valid: true, columns: $0.columns, table: tables.rewrite(sql: $0.table).filter { $0 != "\"" })
            }.map(\.name)
        )
    }

    private struct IndexState: Equatable {
        var valid: Bool
        var columns: [String]
        var table: String
    }

    /// Every `oauthq_` index of the current schema: whether it is valid, and its key columns in order.
    private static func cleanupIndexStates(on connection: PostgresConnection) async throws -> [String: IndexState] {
        let rows = try await connection.query(
            """
            SELECT c.relname::text, i.indisvalid, (SELECT t.relname::text FROM pg_class t WHERE t.oid = i.indrelid), array_to_string(ARRAY(
                SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
                JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n), ',')
            FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relname LIKE 'oauthq\\_%'
            """
        ).rows
        var states: [String: IndexState] = [:]
        for row in rows {
            states[try row.decode(String.self, column: 0)] = IndexState(
                valid: try row.decode(Bool.self, column: 1),
                columns: try row.decode(String.self, column: 3).split(separator: ",").map(String.init),
                table: try row.decode(String.self, column: 2)
            )
        }
        return states
    }
}

extension DOTSchema.CleanupIndex {
    /// The (standard) table it indexes, as written in the definition.
    var table: String { String(definition.prefix { $0 != " " }) }

    /// The key columns, in order, as written in the definition.
    var columns: [String] {
        guard let open = definition.firstIndex(of: "("), let close = definition.firstIndex(of: ")") else { return [] }
        // Not `trimmingCharacters`: Foundation's character sets map ICU data (megabytes of RSS).
        return definition[definition.index(after: open)..<close].split(separator: ",").map { String($0.filter { $0 != " " }) }
    }
}
