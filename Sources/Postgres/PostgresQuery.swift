/// One parameter of a statement: its bytes (or SQL NULL), its type OID and its wire format.
///
/// Never part of any error message or description.
public struct PostgresBind: Sendable {
    /// How the bytes are encoded.
    public enum Format: Int32, Sendable {
        case text = 0
        case binary = 1
    }

    /// The encoded value; `nil` is SQL NULL.
    public var bytes: [UInt8]?
    /// The type OID sent with the parameter.
    public var dataType: PostgresDataType
    /// Text (most types) or binary (bytea).
    public var format: Format

    /// A parameter from raw bytes.
    public init(bytes: [UInt8]?, dataType: PostgresDataType, format: Format) {
        self.bytes = bytes
        self.dataType = dataType
        self.format = format
    }

    /// A text-format parameter; `nil` is SQL NULL.
    public init(text: String?, dataType: PostgresDataType) {
        self.init(bytes: text.map { Array($0.utf8) }, dataType: dataType, format: .text)
    }

    /// A parameter encoding `value` (`nil` optionals become SQL NULL of the wrapped type).
    public init(_ value: some PostgresEncodable) {
        self = value.postgresBind
    }

    /// SQL NULL of the given type.
    public static func null(_ dataType: PostgresDataType = .unspecified) -> PostgresBind {
        PostgresBind(bytes: nil, dataType: dataType, format: .text)
    }

    /// Whether this is SQL NULL.
    public var isNull: Bool { bytes == nil }
}

/// SQL text plus its parameters, sent with `PQexecParams`.
///
/// Write it as a string literal: every interpolation becomes a bound parameter (`$1`, `$2`, …) and only the
/// literal segments are SQL, so values can never change the statement:
///
/// ```swift
/// let expired: PostgresQuery = "DELETE FROM oauth2_provider_accesstoken WHERE expires < \(cutoff) AND id = ANY(\(ids))"
/// ```
///
/// `\(identifier: name)` quotes an identifier (`"my ""table"""`). SQL built at run time by trusted code goes
/// through ``init(unsafeSQL:binds:)`` or `\(unsafeSQL: fragment)`.
public struct PostgresQuery: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    /// The SQL, with `$n` placeholders.
    public var sql: String
    /// The parameters, `binds[0]` is `$1`.
    public var binds: [PostgresBind]

    /// SQL that is not checked in any way, with explicit parameters for its `$n` placeholders.
    /// Only for SQL built by trusted code (identifiers from constants, generated DDL).
    public init(unsafeSQL sql: String, binds: [PostgresBind] = []) {
        self.sql = sql
        self.binds = binds
    }

    public init(stringLiteral value: String) {
        self.init(unsafeSQL: value)
    }

    public init(stringInterpolation: StringInterpolation) {
        self.init(unsafeSQL: stringInterpolation.sql, binds: stringInterpolation.binds)
    }

    /// The SQL text only (placeholders, never values).
    public var description: String {
        sql
    }

    /// Builds the SQL and its parameters from a string literal with interpolations.
    public struct StringInterpolation: StringInterpolationProtocol {
        var sql = ""
        var binds: [PostgresBind] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + interpolationCount * 3)
            binds.reserveCapacity(interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        /// Binds a value as the next `$n` parameter.
        public mutating func appendInterpolation(_ value: some PostgresEncodable) {
            appendInterpolation(bind: value.postgresBind)
        }

        /// Binds an optional value as the next `$n`: `nil` is SQL NULL of the wrapped type.
        /// (A separate overload so interpolating an optional reads as intended and draws no warning.)
        public mutating func appendInterpolation<Wrapped: PostgresEncodable>(_ value: Wrapped?) {
            appendInterpolation(bind: value.postgresBind)
        }

        /// Binds a prepared parameter as the next `$n`.
        public mutating func appendInterpolation(bind: PostgresBind) {
            binds.append(bind)
            sql += "$\(binds.count)"
        }

        /// Inserts a double-quoted identifier (table, column, database name), escaping embedded quotes.
        public mutating func appendInterpolation(identifier: String) {
            sql += PostgresQuery.quoteIdentifier(identifier)
        }

        /// Inserts raw SQL. Only for fragments built by trusted code, never for values.
        public mutating func appendInterpolation(unsafeSQL fragment: String) {
            sql += fragment
        }
    }

    /// `"name"` with embedded `"` doubled; NUL characters (which PostgreSQL rejects anyway) are dropped.
    public static func quoteIdentifier(_ identifier: String) -> String {
        "\"" + identifier.replacing("\"", with: "\"\"").replacing("\u{0}", with: "") + "\""
    }
}
