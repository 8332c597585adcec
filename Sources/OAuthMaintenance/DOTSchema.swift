public import Postgres

/// Django OAuth Toolkit 3.4.1's tables (plus a minimal `auth_user`), exactly as Django's migrations create
/// them on PostgreSQL: the DDL in `DOTSchema+DDL.swift` is generated from a `pg_dump --schema-only` of a
/// database that `manage.py migrate` built.
///
/// `migrate` creates the tables that are missing, in one transaction, in the connection's current
/// schema; it never alters a table that exists. On a Django-managed database, run Django's own migrations
/// instead and use ``check(on:)`` to confirm oauthq finds what it needs.
public enum DOTSchema {
    /// One table's DDL, split so that constraints, indexes and foreign keys come after every table exists.
    struct Table: Sendable {
        let name: String
        let create: [String]
        let constraints: [String]
        let indexes: [String]
        let foreignKeys: [String]
    }

    /// What ``migrate(on:)`` did.
    public struct MigrationReport: Sendable, Equatable {
        /// Tables created by this run, in creation order.
        public var created: [String]
        /// Tables that were already there and were left untouched.
        public var alreadyPresent: [String]
    }

    /// What ``check(on:)`` found missing.
    public struct CheckReport: Sendable, Equatable {
        /// Tables oauthq uses that do not exist in the current schema.
        public var missingTables: [String]
        /// Columns (`table.column`) oauthq uses that are missing from tables that do exist.
        public var missingColumns: [String]
        /// True when nothing is missing.
        public var isComplete: Bool { missingTables.isEmpty && missingColumns.isEmpty }
    }

    /// Advisory lock key taken (transaction-scoped) by `migrate`, so two concurrent runs serialise.
    static let migrationLockKey: Int64 = 0x6F61_7574_6871_6D31  // "oauthqm1"

    /// Creates every missing DOT table with its constraints, indexes and deferred foreign keys, in one
    /// transaction. A database that already has all of them is not changed.
    /// - Throws: `PostgresError` from the server (the transaction is rolled back).
    @discardableResult
    public static func migrate(on connection: PostgresConnection) async throws -> MigrationReport {
        try await connection.transaction { conn in
            try conn.execute("SELECT pg_advisory_xact_lock(\(migrationLockKey))")
            let existing = try existingTables(on: conn)
            let missing = tables.filter { !existing.contains($0.name) }
            // Phase by phase across all tables, as pg_dump orders them: a foreign key needs the
            // referenced table's primary key or unique constraint to exist already.
            let phases: [KeyPath<Table, [String]>] = [\.create, \.constraints, \.indexes, \.foreignKeys]
            for phase in phases {
                for table in missing {
                    for statement in table[keyPath: phase] { try conn.execute(PostgresQuery(unsafeSQL: statement)) }
                }
            }
            return MigrationReport(
                created: missing.map(\.name),
                alreadyPresent: tables.map(\.name).filter { existing.contains($0) }
            )
        }
    }

    /// Reports whether the current schema has every table and column oauthq reads or writes.
    public static func check(on connection: PostgresConnection) async throws -> CheckReport {
        let rows = try await connection.query(
            """
            SELECT table_name::text, column_name::text FROM information_schema.columns
            WHERE table_schema = current_schema()
            """
        ).rows
        var present: [String: Set<String>] = [:]
        for row in rows {
            present[try row.decode(String.self, column: 0), default: []].insert(try row.decode(String.self, column: 1))
        }
        var report = CheckReport(missingTables: [], missingColumns: [])
        for (table, columns) in usedColumns {
            guard let have = present[table] else {
                report.missingTables.append(table)
                continue
            }
            report.missingColumns += columns.filter { !have.contains($0) }.map { "\(table).\($0)" }
        }
        return report
    }

    /// The tables and columns oauthq uses: every column of DOT's token, grant and application tables
    /// (parsed from the DDL, so the two never disagree) and `auth_user.id`. `devicegrant` is never touched.
    static let usedColumns: [(table: String, columns: [String])] = tables.compactMap { table in
        switch table.name {
        case "oauth2_provider_devicegrant": return nil
        case "auth_user": return (table.name, ["id"])
        default: return (table.name, columnNames(inCreateTable: table.create[0]))
        }
    }

    /// The column names of a `CREATE TABLE name (\n    col type,\n …)` statement.
    static func columnNames(inCreateTable sql: String) -> [String] {
        sql.split(separator: "\n").dropFirst().compactMap { (line: Substring) -> String? in
            let trimmed = line.drop { $0 == " " }
            guard trimmed.count < line.count, let first = trimmed.split(separator: " ").first else { return nil }
            return first.filter { $0 != "\"" }
        }
    }

    static func existingTables(on conn: isolated PostgresConnection) throws -> Set<String> {
        let names = tables.map(\.name).joined(separator: ",")
        let rows = try conn.query(
            """
            SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
              AND c.relname = ANY(string_to_array(\(names), ','))
            """
        ).rows
        return Set(try rows.map { try $0.decode(String.self, column: 0) })
    }
}
