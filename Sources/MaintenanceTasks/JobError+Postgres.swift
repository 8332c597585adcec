import CeleryProtocol
public import CeleryRedis
public import Postgres

extension JobError {
    /// The task error for a PostgreSQL error: what the worker does with it, and the exception Python sees.
    ///
    /// Decided by the error's code and SQLSTATE only — never by its message, which a server may send in any
    /// language:
    /// - **Kind.** ``PostgresError/isTransient`` errors are retried (``Kind/transient``): a lost or refused
    ///   connection, a connect timeout, a serialization failure (40001), a deadlock (40P01), a server shutting
    ///   down or starting (57P01–57P03), any connection exception (class 08). Everything else is a
    ///   ``Kind/failure``, e.g. a unique violation or a wrong password: a retry cannot fix it.
    /// - **Exception.** The `django.db.utils` class Django raises for it. Django re-raises the driver's DB-API
    ///   exception under its own name, and psycopg picks that class from the SQLSTATE's class (its
    ///   `psycopg.errors` module): 23 `IntegrityError`, 22 `DataError`, 42/3D/3F `ProgrammingError`,
    ///   08/40/53/57 `OperationalError`, 24/25 `InternalError`, 0A `NotSupportedError`, … (``djangoExceptionType(for:)``).
    ///   An error without SQLSTATE is `OperationalError` when the connection failed or broke, else `DatabaseError`.
    /// - **Message.** ``PostgresError/description``: code, SQLSTATE, the server's message with quoted input
    ///   redacted, the constraint — never bound values or `DETAIL`.
    ///
    /// Related documentation: <https://www.postgresql.org/docs/15/errcodes-appendix.html>,
    /// <https://www.psycopg.org/psycopg3/docs/api/errors.html>,
    /// <https://docs.djangoproject.com/en/5.2/ref/exceptions/#database-exceptions>.
    public init(postgres error: PostgresError) {
        let exception = CeleryResult.ExceptionInfo(
            type: Self.djangoExceptionType(for: error), module: "django.db.utils", messages: [.string(error.description)]
        )
        self.init(error.isTransient ? .transient : .failure, exception: exception)
    }

    /// The name of the `django.db.utils` exception class for `error` (see ``init(postgres:)``).
    public static func djangoExceptionType(for error: PostgresError) -> String {
        if let sqlState = error.sqlState {
            let state = sqlState.rawValue
            if let name = exceptionBySQLStateClass[String(state.prefix(2))] ?? exceptionBySQLStateClass[String(state.prefix(1))] {
                return name
            }
            return "DatabaseError"
        }
        switch error.code {
        case .connectionFailed, .connectionLost, .timeout, .authenticationFailed, .connectionClosed, .cancelled:
            return "OperationalError"
        case .transactionAborted:
            return "InternalError"  // as 25P02 (in_failed_sql_transaction)
        default:
            return "DatabaseError"
        }
    }

    /// psycopg's DB-API class by SQLSTATE class (two characters), or by first character for the
    /// vendor-specific families (F, H, P, X).
    private static let exceptionBySQLStateClass: [String: String] = [
        "08": "OperationalError",  // connection exception
        "0A": "NotSupportedError",  // feature not supported
        "10": "ProgrammingError",  // XQuery error
        "20": "ProgrammingError",  // case not found
        "21": "ProgrammingError",  // cardinality violation
        "22": "DataError",  // data exception
        "23": "IntegrityError",  // integrity constraint violation
        "24": "InternalError",  // invalid cursor state
        "25": "InternalError",  // invalid transaction state
        "26": "ProgrammingError",  // invalid SQL statement name
        "27": "OperationalError",  // triggered data change violation
        "28": "OperationalError",  // invalid authorization specification
        "2B": "InternalError",  // dependent privilege descriptors still exist
        "2D": "InternalError",  // invalid transaction termination
        "2F": "OperationalError",  // SQL routine exception
        "34": "ProgrammingError",  // invalid cursor name
        "38": "OperationalError",  // external routine exception
        "39": "OperationalError",  // external routine invocation exception
        "3B": "OperationalError",  // savepoint exception
        "3D": "ProgrammingError",  // invalid catalog name
        "3F": "ProgrammingError",  // invalid schema name
        "40": "OperationalError",  // transaction rollback
        "42": "ProgrammingError",  // syntax error or access rule violation
        "44": "ProgrammingError",  // WITH CHECK OPTION violation
        "53": "OperationalError",  // insufficient resources
        "54": "OperationalError",  // program limit exceeded
        "55": "OperationalError",  // object not in prerequisite state
        "57": "OperationalError",  // operator intervention
        "58": "OperationalError",  // system error
        "F": "OperationalError",  // configuration file error
        "H": "OperationalError",  // foreign data wrapper error
        "P": "ProgrammingError",  // PL/pgSQL error
        "X": "InternalError",  // internal error
    ]
}
