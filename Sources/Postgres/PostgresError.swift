/// An error from the PostgreSQL client: a failed connect, a server error, a lost connection, a value that
/// would not decode, or bad configuration.
///
/// `description` is safe to log: it never contains bound parameters or passwords. Server messages of
/// class 22 (data exception) quote the offending input, so their quoted parts are redacted there; `detail`
/// (which often quotes row values, e.g. `Key (client_id)=(abc) already exists.`) is never part of
/// `description` or `debugDescription` — read it explicitly if you need it.
public struct PostgresError: Error, CustomStringConvertible, CustomDebugStringConvertible, Sendable {
    /// What went wrong, broadly. New codes may be added; switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case connectionFailed, authenticationFailed, timeout, server, connectionLost, connectionClosed
            case cancelled, decoding, invalidConfiguration, invalidParameter, advisoryLockNotHeld, transactionAborted, unsupported
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// Connecting failed (server unreachable, database missing, too many connections, …).
        public static let connectionFailed = Code(.connectionFailed)
        /// Connecting failed because of the credentials: the server wanted a password that was not given, or
        /// refused the session after one was sent. Permanent: retrying cannot help.
        public static let authenticationFailed = Code(.authenticationFailed)
        /// The connect timeout expired.
        public static let timeout = Code(.timeout)
        /// The server reported an error for a statement; see ``PostgresError/sqlState``.
        public static let server = Code(.server)
        /// The connection broke (terminated backend, server restart, network); the connection is dead.
        public static let connectionLost = Code(.connectionLost)
        /// The connection was used after ``PostgresConnection/close()``.
        public static let connectionClosed = Code(.connectionClosed)
        /// The statement was cancelled by ``PostgresConnection/cancel()`` or by cancelling the task
        /// running ``PostgresConnection/run(_:)``. `sqlState` is `.queryCanceled` when the server
        /// reported it (a statement timeout is a `.server` error with `.queryCanceled` instead).
        public static let cancelled = Code(.cancelled)
        /// A column value could not be decoded into the requested Swift type.
        public static let decoding = Code(.decoding)
        /// The URL or conninfo string is invalid.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// A parameter cannot be sent (a NUL byte in text, more than 2 GB).
        public static let invalidParameter = Code(.invalidParameter)
        /// ``PostgresConnection/advisoryUnlock(_:)`` was called for a lock this session does not hold.
        public static let advisoryLockNotHeld = Code(.advisoryLockNotHeld)
        /// COMMIT found the transaction already aborted (an error inside it was caught and ignored), so the
        /// server rolled it back.
        public static let transactionAborted = Code(.transactionAborted)
        /// The statement needs a protocol feature this client does not support (e.g. COPY).
        public static let unsupported = Code(.unsupported)

        public var description: String {
            base.rawValue
        }
    }

    /// What went wrong, broadly.
    public var code: Code
    /// The server's SQLSTATE, when the server reported one.
    public var sqlState: SQLState?
    /// The primary message (from the server, libpq or this client).
    public var message: String?
    /// The server's DETAIL. May quote row or parameter values: not part of `description`.
    public var detail: String?
    /// The server's HINT.
    public var hint: String?
    /// The name of the violated constraint, for integrity errors.
    public var constraint: String?

    public init(
        _ code: Code, sqlState: SQLState? = nil, message: String? = nil, detail: String? = nil,
        hint: String? = nil, constraint: String? = nil
    ) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
    }

    /// Whether retrying the job later may succeed: the connection was lost or could not be opened
    /// (`.connectionLost`, `.connectionFailed`, `.timeout`), a serialization failure (40001), a deadlock
    /// (40P01), a server shutdown or restart (57P01, 57P02, 57P03), or any connection exception (class 08).
    public var isTransient: Bool {
        if code == .connectionLost || code == .connectionFailed || code == .timeout {
            return true
        }
        guard let sqlState else { return false }
        switch sqlState {
        case .serializationFailure, .deadlockDetected, .adminShutdown, .crashShutdown, .cannotConnectNow:
            return true
        default:
            return sqlState.errorClass == "08"
        }
    }

    /// One line: code, SQLSTATE, message (class 22 quotes redacted) and constraint. No DETAIL, no values.
    public var description: String {
        var text = "PostgresError.\(code)"
        if let sqlState {
            text += " (SQLSTATE \(sqlState.rawValue))"
        }
        if let message {
            text += ": " + Self.redacted(message, sqlState: sqlState)
        }
        if let constraint {
            text += " [constraint: \(constraint)]"
        }
        return text
    }

    /// `description` plus the server's HINT. Still no DETAIL.
    public var debugDescription: String {
        guard let hint else { return description }
        return description + " (hint: \(Self.redacted(hint, sqlState: sqlState)))"
    }

    /// Messages of class 22 (data exception) quote the input that failed, e.g.
    /// `invalid input syntax for type uuid: "…"`; that input is usually a bound parameter.
    static func redacted(_ message: String, sqlState: SQLState?) -> String {
        let oneLine = Self.oneLine(message)
        guard sqlState?.errorClass == "22" else { return oneLine }
        var result = ""
        var inQuote = false
        for character in oneLine {
            if character == "\"" {
                result.append(character)
                if !inQuote { result += "…" }
                inQuote.toggle()
            } else if !inQuote {
                result.append(character)
            }
        }
        return result
    }

    /// Collapses libpq's multi-line messages ("…failed: Connection refused\n\tIs the server running…") to one line.
    static func oneLine(_ message: String) -> String {
        message.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }
}
