/// The outcome of a statement, decoded eagerly: all rows, the affected-row count and the column names.
public struct PostgresResult: Sendable {
    /// The returned rows (empty for statements without a result set).
    public let rows: [PostgresRow]
    /// Rows inserted, updated, deleted, selected, … (libpq's `PQcmdTuples`); 0 when not applicable.
    public let affectedRows: Int
    /// The column names, in order.
    public let columns: [String]
    /// The command tag, e.g. `DELETE 42`, `COMMIT`, `SELECT 1`.
    public let commandTag: String

    public init(rows: [PostgresRow], affectedRows: Int, columns: [String], commandTag: String) {
        self.rows = rows
        self.affectedRows = affectedRows
        self.columns = columns
        self.commandTag = commandTag
    }
}

/// One result row. Values stay in PostgreSQL's text format until decoded.
public struct PostgresRow: Sendable {
    /// Column metadata shared by all rows of a result.
    struct Columns: Sendable {
        let names: [String]
        let types: [PostgresDataType]
        let indexByName: [String: Int]

        init(names: [String], types: [PostgresDataType]) {
            self.names = names
            self.types = types
            // The first column wins when a name repeats (`SELECT a.id, b.id`).
            self.indexByName = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        }
    }

    let columns: Columns
    let values: [[UInt8]?]

    init(columns: Columns, values: [[UInt8]?]) {
        self.columns = columns
        self.values = values
    }

    /// The number of columns.
    public var count: Int { values.count }

    /// The raw cell at `column`.
    /// - Throws: `.decoding` if there is no such column.
    public func cell(at column: Int) throws -> PostgresCell {
        guard values.indices.contains(column) else {
            throw PostgresError(.decoding, message: "no column at index \(column) (row has \(values.count))")
        }
        return PostgresCell(bytes: values[column], dataType: columns.types[column], columnName: columns.names[column], columnIndex: column)
    }

    /// The raw cell of the column named `name` (the first, if several share it).
    /// - Throws: `.decoding` if there is no such column.
    public func cell(named name: String) throws -> PostgresCell {
        guard let index = columns.indexByName[name] else {
            throw PostgresError(.decoding, message: "no column named \"\(name)\"")
        }
        return try cell(at: index)
    }

    /// Decodes the value at a column index.
    /// - Throws: `.decoding` for a missing column, a NULL into a non-optional, or a value of the wrong type.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, column: Int) throws -> T {
        try T.decode(from: cell(at: column))
    }

    /// Decodes the value of a named column.
    /// - Throws: `.decoding` for a missing column, a NULL into a non-optional, or a value of the wrong type.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, column name: String) throws -> T {
        try T.decode(from: cell(named: name))
    }
}
