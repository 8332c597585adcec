/// A five-character PostgreSQL error code (`SQLSTATE`), e.g. `23505` for a unique violation.
///
/// Compare with `==`, switch over it, or match an error directly in a `catch` clause:
///
/// ```swift
/// do { try connection.execute(insert) }
/// catch SQLState.uniqueViolation { … }                       // any PostgresError with that SQLSTATE
/// catch let error as PostgresError where error.sqlState == .foreignKeyViolation { … }
/// ```
///
/// Related documentation: <https://www.postgresql.org/docs/15/errcodes-appendix.html>
public struct SQLState: RawRepresentable, Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The five-character code.
    public let rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public init(stringLiteral value: String) {
        self.rawValue = value
    }

    /// The two-character class, e.g. `"23"` (integrity constraint violation) or `"08"` (connection exception).
    public var errorClass: String {
        String(rawValue.prefix(2))
    }

    public var description: String {
        rawValue
    }

    // MARK: - Class 08: connection exception
    public static let connectionException: SQLState = "08000"
    public static let connectionFailure: SQLState = "08006"
    // MARK: - Class 22: data exception
    public static let dataException: SQLState = "22000"
    public static let invalidTextRepresentation: SQLState = "22P02"
    public static let numericValueOutOfRange: SQLState = "22003"
    public static let stringDataRightTruncation: SQLState = "22001"
    // MARK: - Class 23: integrity constraint violation
    public static let integrityConstraintViolation: SQLState = "23000"
    public static let notNullViolation: SQLState = "23502"
    public static let foreignKeyViolation: SQLState = "23503"
    public static let uniqueViolation: SQLState = "23505"
    public static let checkViolation: SQLState = "23514"
    public static let exclusionViolation: SQLState = "23P01"
    // MARK: - Class 25: invalid transaction state
    public static let inFailedSQLTransaction: SQLState = "25P02"
    // MARK: - Class 28: invalid authorization specification
    public static let invalidAuthorizationSpecification: SQLState = "28000"
    public static let invalidPassword: SQLState = "28P01"
    // MARK: - Class 3D/42: syntax, access and missing objects
    public static let invalidCatalogName: SQLState = "3D000"
    public static let syntaxError: SQLState = "42601"
    public static let insufficientPrivilege: SQLState = "42501"
    public static let undefinedColumn: SQLState = "42703"
    public static let undefinedTable: SQLState = "42P01"
    public static let duplicateTable: SQLState = "42P07"
    public static let duplicateObject: SQLState = "42710"
    // MARK: - Class 40: transaction rollback
    public static let transactionRollback: SQLState = "40000"
    public static let serializationFailure: SQLState = "40001"
    public static let deadlockDetected: SQLState = "40P01"
    // MARK: - Class 55: object not in prerequisite state
    public static let lockNotAvailable: SQLState = "55P03"
    // MARK: - Class 22 (more)
    public static let divisionByZero: SQLState = "22012"
    // MARK: - Class 57: operator intervention
    public static let queryCanceled: SQLState = "57014"
    public static let adminShutdown: SQLState = "57P01"
    public static let crashShutdown: SQLState = "57P02"
    public static let cannotConnectNow: SQLState = "57P03"
    // MARK: - Class 53: insufficient resources
    public static let tooManyConnections: SQLState = "53300"

    /// Matches any error that is a ``PostgresError`` with this SQLSTATE, so `catch SQLState.uniqueViolation` works.
    public static func ~= (pattern: SQLState, error: any Error) -> Bool {
        (error as? PostgresError)?.sqlState == pattern
    }
}
