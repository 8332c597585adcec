public import Postgres

/// Schema drift: how the database differs from the DOT 3.4.1 schema this release was built for, each
/// difference marked harmless or blocking for the tasks it would break. A newer DOT adds NOT NULL
/// columns (oauthq's INSERT would fail), tables (its cleartokens may clear them) or models that
/// reference DOT's (their on-delete work is unknown to oauthq): such a DOT must fail loudly, not
/// half-work.
extension DOTSchema {
    /// A column of DOT 3.4.1's schema: name, type as `format_type` prints it, nullability.
    struct ExpectedColumn: Sendable, Equatable {
        let name: String
        let type: String
        let notNull: Bool
    }

    /// A foreign key of DOT 3.4.1's schema (standard table names).
    struct ExpectedForeignKey: Sendable, Hashable {
        let table: String
        let column: String
        let references: String
    }

    /// The tables DOT 3.4.1 has that oauthq never reads (known, so not "added").
    static let untouchedTables: Set<String> = ["oauth2_provider_devicegrant"]

    /// Which tasks read or write each of DOT's tables (standard names).
    static let tasksUsing: [String: [String]] = [
        "oauth2_provider_application": ["createapplication", "clearcimdapplications"],
        "oauth2_provider_accesstoken": ["cleartokens", "clearcimdapplications"],
        "oauth2_provider_refreshtoken": ["cleartokens", "clearcimdapplications"],
        "oauth2_provider_idtoken": ["cleartokens", "clearcimdapplications"],
        "oauth2_provider_grant": ["cleartokens", "clearcimdapplications"],
        "auth_user": ["createapplication"],
    ]

    /// Which tasks delete rows of each table (a foreign key DOT does not have, pointing at it, means
    /// on-delete work oauthq does not know).
    static let tasksDeleting: [String: [String]] = [
        "oauth2_provider_application": ["clearcimdapplications"],
        "oauth2_provider_accesstoken": ["cleartokens", "clearcimdapplications"],
        "oauth2_provider_refreshtoken": ["cleartokens", "clearcimdapplications"],
        "oauth2_provider_idtoken": ["cleartokens", "clearcimdapplications"],
        "oauth2_provider_grant": ["cleartokens", "clearcimdapplications"],
    ]

    /// DOT 3.4.1's columns by standard table name, parsed from the DDL (so the two never disagree).
    static let expectedColumns: [String: [ExpectedColumn]] = Dictionary(
        uniqueKeysWithValues: tables.map { table in (table.name, parseColumns(table.create[0])) }
    )

    /// DOT 3.4.1's foreign keys, parsed from the DDL.
    static let expectedForeignKeys: Set<ExpectedForeignKey> = Set(
        tables.flatMap { table in table.foreignKeys.compactMap(parseForeignKey) }
    )

    static func parseColumns(_ create: String) -> [ExpectedColumn] {
        create.split(separator: "\n").dropFirst().compactMap { line -> ExpectedColumn? in
            var text = line.drop { $0 == " " }
            guard text.count < line.count, let space = text.firstIndex(of: " ") else { return nil }
            let name = text[..<space].filter { $0 != "\"" }
            text = text[text.index(after: space)...]
            if text.hasSuffix(",") { text = text.dropLast() }
            let notNull = text.hasSuffix(" NOT NULL")
            if notNull { text = text.dropLast(" NOT NULL".count) }
            return ExpectedColumn(name: String(name), type: String(text), notNull: notNull)
        }
    }

    /// `ALTER TABLE ONLY t ADD CONSTRAINT … FOREIGN KEY (c) REFERENCES u(id) …`.
    static func parseForeignKey(_ ddl: String) -> ExpectedForeignKey? {
        let words = ddl.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard let only = words.firstIndex(of: "ONLY"), let key = words.firstIndex(of: "KEY"),
            let references = words.firstIndex(of: "REFERENCES"), references + 1 < words.count
        else { return nil }
        let table = words[only + 1].filter { $0 != "\"" }
        let column = words[key + 1].filter { $0 != "(" && $0 != ")" && $0 != "\"" }
        let target = words[references + 1].prefix { $0 != "(" }.filter { $0 != "\"" }
        return ExpectedForeignKey(table: String(table), column: String(column), references: String(target))
    }

    /// The configured table for a standard one (swapped models, custom user model).
    static func configured(_ standard: String, _ names: DOTTables) -> String {
        switch standard {
        case "oauth2_provider_application": names.application
        case "oauth2_provider_accesstoken": names.accessToken
        case "oauth2_provider_refreshtoken": names.refreshToken
        case "oauth2_provider_idtoken": names.idToken
        case "oauth2_provider_grant": names.grant
        case "auth_user": names.user
        default: standard
        }
    }

    /// Integer widths and text lengths are one family each: a change within it (a custom user model's
    /// `bigint` key, a longer `varchar`) does not change what oauthq reads or writes.
    static func typeFamily(_ type: String) -> String {
        switch type {
        case "smallint", "integer", "bigint": return "integer"
        case "text": return "text"
        default: return type.hasPrefix("character varying") ? "text" : type
        }
    }

    struct ActualColumn: Sendable {
        let type: String
        let notNull: Bool
        let hasDefault: Bool
    }

    /// Compares the current schema with DOT 3.4.1's, for the configured tables.
    /// - Throws: `PostgresError` from the catalog queries.
    public static func drift(on connection: PostgresConnection, tables names: DOTTables = .standard) async throws -> SchemaDriftReport {
        let columnRows = try await connection.query(
            """
            SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                   a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> ''
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY c.relname, a.attnum
            """
        ).rows
        var actual: [String: [(name: String, column: ActualColumn)]] = [:]
        for row in columnRows {
            let column = ActualColumn(
                type: try row.decode(String.self, column: 2), notNull: try row.decode(Bool.self, column: 3),
                hasDefault: try row.decode(Bool.self, column: 4)
            )
            actual[try row.decode(String.self, column: 0), default: []].append((try row.decode(String.self, column: 1), column))
        }
        let foreignKeyRows = try await connection.query(
            """
            SELECT src.relname::text, a.attname::text, dst.relname::text
            FROM pg_constraint con
            JOIN pg_class src ON src.oid = con.conrelid JOIN pg_namespace n ON n.oid = src.relnamespace
            JOIN pg_class dst ON dst.oid = con.confrelid
            JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
            WHERE con.contype = 'f' AND n.nspname = current_schema()
            ORDER BY 1, 2
            """
        ).rows
        let foreignKeys = try foreignKeyRows.map {
            ExpectedForeignKey(
                table: try $0.decode(String.self, column: 0), column: try $0.decode(String.self, column: 1),
                references: try $0.decode(String.self, column: 2)
            )
        }
        return compare(actual: actual, foreignKeys: foreignKeys, names: names)
    }

    static func compare(
        actual: [String: [(name: String, column: ActualColumn)]],
        foreignKeys: [ExpectedForeignKey],
        names: DOTTables
    ) -> SchemaDriftReport {
        var differences: [SchemaDifference] = []
        for table in tables.map(\.name) where !untouchedTables.contains(table) {
            let name = configured(table, names)
            let tasks = tasksUsing[table] ?? []
            guard let have = actual[name] else {
                differences.append(.init(severity: .blocking, subject: "table \(name)", reason: "missing", blockedTasks: tasks))
                continue
            }
            let expected = expectedColumns[table] ?? []
            let byName = Dictionary(have.map { ($0.name, $0.column) }, uniquingKeysWith: { first, _ in first })
            // Only the user model's key matters: a project's user table is its own business.
            let checked = table == "auth_user" ? expected.filter { $0.name == "id" } : expected
            for column in checked {
                let subject = "column \(name).\(column.name)"
                guard let found = byName[column.name] else {
                    differences.append(.init(severity: .blocking, subject: subject, reason: "missing", blockedTasks: tasks))
                    continue
                }
                if found.type != column.type {
                    let compatible = typeFamily(found.type) == typeFamily(column.type)
                    differences.append(
                        .init(
                            severity: compatible ? .harmless : .blocking, subject: subject,
                            reason: "type \(found.type), DOT 3.4.1 has \(column.type)", blockedTasks: tasks
                        )
                    )
                }
                if found.notNull && !column.notNull && table != "auth_user" {
                    differences.append(
                        .init(
                            severity: .blocking, subject: subject,
                            reason: "NOT NULL, DOT 3.4.1 allows NULL (oauthq writes NULL into it)", blockedTasks: tasks
                        )
                    )
                } else if !found.notNull && column.notNull && table != "auth_user" {
                    differences.append(.init(severity: .harmless, subject: subject, reason: "nullable, DOT 3.4.1 has NOT NULL"))
                }
            }
            guard table != "auth_user" else { continue }
            let known = Set(expected.map(\.name))
            for (columnName, column) in have where !known.contains(columnName) {
                let subject = "column \(name).\(columnName)"
                if column.notNull && !column.hasDefault {
                    // oauthq inserts only into the application table.
                    let inserts = table == "oauth2_provider_application"
                    differences.append(
                        .init(
                            severity: inserts ? .blocking : .harmless, subject: subject,
                            reason: inserts
                                ? "added NOT NULL column without a default: createapplication's INSERT cannot fill it"
                                : "added NOT NULL column without a default (oauthq never inserts into this table)",
                            blockedTasks: inserts ? ["createapplication"] : []
                        )
                    )
                } else {
                    let why = column.notNull ? "added column with a database default" : "added nullable column"
                    differences.append(.init(severity: .harmless, subject: subject, reason: why))
                }
            }
        }
        // Tables of a newer DOT: its cleartokens may clear them, oauthq would leave their rows.
        let knownTables = Set(tables.map(\.name)).union(tables.map { configured($0.name, names) })
        for table in actual.keys.sorted() where table.hasPrefix("oauth2_provider_") && !knownTables.contains(table) {
            differences.append(
                .init(
                    severity: .blocking, subject: "table \(table)",
                    reason: "added: not in DOT 3.4.1, a newer DOT's cleartokens may clear it and oauthq would not",
                    blockedTasks: ["cleartokens"]
                )
            )
        }
        // Foreign keys: DOT's missing ones only lose the database's check (oauthq does Django's
        // on-delete work itself); one DOT does not have, pointing at a table a task deletes from, means
        // on-delete work oauthq cannot know.
        let expected = Set(
            expectedForeignKeys.map {
                ExpectedForeignKey(table: configured($0.table, names), column: $0.column, references: configured($0.references, names))
            }
        )
        let present = Set(foreignKeys)
        for key in expected.sorted(by: { ($0.table, $0.column) < ($1.table, $1.column) })
        where !present.contains(key) && actual[key.table] != nil && key.table != "oauth2_provider_devicegrant" {
            differences.append(
                .init(
                    severity: .harmless, subject: "foreign key \(key.table).\(key.column) -> \(key.references)",
                    reason: "missing: the database does not enforce it (oauthq does Django's on-delete work itself)"
                )
            )
        }
        // Two models configured onto one table are refused by DOTTables; merging keeps this total regardless.
        let deleted = Dictionary(tasksDeleting.map { (configured($0.key, names), $0.value) }) { first, second in
            Array(Set(first + second)).sorted()
        }
        for key in foreignKeys where !expected.contains(key) {
            guard let tasks = deleted[key.references] else { continue }
            differences.append(
                .init(
                    severity: .blocking, subject: "foreign key \(key.table).\(key.column) -> \(key.references)",
                    reason: "added: deleting \(key.references) rows needs on-delete work DOT 3.4.1 does not define",
                    blockedTasks: tasks
                )
            )
        }
        return SchemaDriftReport(differences: differences)
    }
}
