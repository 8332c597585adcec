internal import CLibPQ
import Foundation
import Synchronization
import ThreadConfinement

/// One PostgreSQL connection (libpq), confined to its own OS thread.
///
/// The actor's executor is a ``DedicatedThreadExecutor``: every libpq call runs on the connection's thread,
/// never on Swift's cooperative pool, so blocking queries on several connections run in parallel and never
/// stall other tasks. Methods are synchronous inside the actor; call them with `await` from outside, or
/// group several inside ``transaction(_:)``, whose closure runs isolated to the connection.
///
/// All SQL goes through `PQexecParams` with bound parameters (see ``PostgresQuery``); results are decoded
/// eagerly. The session runs with `TimeZone=UTC` and `DateStyle=ISO`. NOTICEs are discarded.
///
/// After a connection-level failure (terminated backend, server restart, network), the connection is dead:
/// every later call throws `.connectionLost` (``PostgresError/isTransient``) at once. Open a new one.
///
/// Related libpq documentation: <https://www.postgresql.org/docs/15/libpq-exec.html>
public actor PostgresConnection {
    private let executor: DedicatedThreadExecutor
    private let canceller = PostgresCanceller()
    /// The `PGconn`, owned by this actor; nil before connecting and after ``close()``.
    private var connectionHandle: PostgresConnectionHandle?
    private var handle: OpaquePointer? { connectionHandle?.pointer }
    private var isDead = false
    private var isClosed = false
    private var transactionDepth = 0

    private static let connectionCounter = Atomic<Int>(0)

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    private init() {
        let number = Self.connectionCounter.add(1, ordering: .relaxed).newValue
        executor = DedicatedThreadExecutor(name: "postgres-\(number)")
    }

    // `isolated deinit` (SE-0371) runs on the connection's own thread, like every other libpq call: PQfinish
    // (network I/O: it sends Terminate) never runs on the cooperative pool or on whichever thread dropped the
    // last reference.
    isolated deinit {
        canceller.release()
        connectionHandle = nil
        executor.shutdown()
    }

    // MARK: - Connecting

    /// Opens a connection (on the connection's own thread) and prepares the session (UTC, ISO dates).
    /// - Throws: ``PostgresError`` with `.connectionFailed`, `.authenticationFailed` or `.timeout`; the
    ///   message is one line and never contains the password.
    public static func connect(_ configuration: PostgresConfiguration) async throws -> PostgresConnection {
        let connection = PostgresConnection()
        try await connection.open(configuration)
        return connection
    }

    private func open(_ configuration: PostgresConfiguration) throws {
        let parameters = configuration.connectionParameters
        let keywords = parameters.map { strdup($0.keyword) }
        let values = parameters.map { strdup($0.value) }
        defer {
            keywords.forEach { free($0) }
            values.forEach { free($0) }
        }
        let keywordPointers = keywords.map { UnsafePointer<CChar>($0) } + [nil]
        let valuePointers = values.map { UnsafePointer<CChar>($0) } + [nil]
        let started = ContinuousClock.now
        guard let connection = PQconnectdbParams(keywordPointers, valuePointers, 0) else {
            throw PostgresError(.connectionFailed, message: "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let error = Self.connectError(connection, elapsed: started.duration(to: .now), limit: configuration.connectTimeout)
            // "…the application should call PQfinish to free the memory used by the PGconn object…
            // even if the server connection attempt fails" (libpq, PQfinish).
            PQfinish(connection)
            throw error
        }
        // The default notice processor prints every NOTICE/WARNING to stderr.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        connectionHandle = PostgresConnectionHandle(connection)
        canceller.install(PQgetCancel(connection))
        do {
            try execute(
                """
                SELECT set_config('TimeZone', 'UTC', false), set_config('DateStyle', 'ISO, MDY', false), \
                set_config('bytea_output', 'hex', false), set_config('extra_float_digits', '1', false)
                """
            )
        } catch {
            close()
            throw error
        }
    }

    /// Classifies a failed connect by libpq's state, never by the text of the message (which a server with
    /// another `lc_messages` translates): the server asked for a password that was not given
    /// (`PQconnectionNeedsPassword`), or a password was sent and the session was still refused
    /// (`PQconnectionUsedPassword`) — both permanent, retrying cannot help; the attempt used up the whole
    /// connect timeout — `.timeout`; anything else (unreachable, starting up, too many clients) —
    /// `.connectionFailed`, which is transient.
    private static func connectError(_ connection: OpaquePointer, elapsed: Duration, limit: Duration) -> PostgresError {
        let message = errorMessage(of: connection)
        if PQconnectionNeedsPassword(connection) == 1 || PQconnectionUsedPassword(connection) == 1 {
            return PostgresError(.authenticationFailed, message: message)
        }
        if limit > .zero && elapsed >= limit {
            return PostgresError(.timeout, message: message)
        }
        return PostgresError(.connectionFailed, message: message)
    }

    private static func errorMessage(of connection: OpaquePointer) -> String {
        guard let message = PQerrorMessage(connection) else { return "unknown libpq error" }
        let text = PostgresError.oneLine(String(cString: message))
        return text.isEmpty ? "unknown libpq error" : text
    }

    // MARK: - State

    /// True while the connection is usable: connected (`CONNECTION_OK`), not closed, no fatal error seen.
    public var isConnected: Bool {
        guard let handle, !isDead else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// Closes the connection (`PQfinish`). Later calls throw `.connectionClosed`. Closing twice is harmless.
    public func close() {
        canceller.release()
        connectionHandle = nil
        isClosed = true
    }

    private func liveHandle() throws -> OpaquePointer {
        if isClosed {
            throw PostgresError(.connectionClosed, message: "the connection was closed")
        }
        guard let handle, !isDead else {
            throw PostgresError(.connectionLost, message: "the connection was lost earlier; open a new one")
        }
        return handle
    }

    private func markDead() {
        isDead = true
        canceller.release()
    }

    // MARK: - Statements

    /// Runs a statement and returns its rows and affected-row count.
    /// - Throws: ``PostgresError``: `.server` with ``PostgresError/sqlState`` for server errors,
    ///   `.connectionLost` if the connection broke, `.cancelled` after ``cancel()``.
    @discardableResult
    public func query(_ query: PostgresQuery) throws -> PostgresResult {
        let connection = try liveHandle()
        canceller.beginStatement()
        let result = try Self.withParameters(query.binds) { count, types, values, lengths, formats in
            PQexecParams(connection, query.sql, count, types, values, lengths, formats, 0)
        }
        defer { PQclear(result) }
        guard let result else {
            // NULL: out of memory, or the statement could not be sent.
            let message = Self.errorMessage(of: connection)
            if PQstatus(connection) != CONNECTION_OK {
                markDead()
                throw PostgresError(.connectionLost, message: message)
            }
            throw PostgresError(.server, message: message)
        }
        let status = PQresultStatus(result)
        switch status {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return Self.decode(result)
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            // The connection is now in COPY mode, which this client does not drive: it cannot be reused.
            markDead()
            connectionHandle = nil
            throw PostgresError(.unsupported, message: "COPY is not supported; the connection was closed")
        default:
            var error = Self.serverError(result, connection: connection)
            if PQstatus(connection) != CONNECTION_OK {
                markDead()
                error.code = .connectionLost
            } else if error.sqlState == .queryCanceled && canceller.wasRequested {
                error.code = .cancelled
            }
            throw error
        }
    }

    /// Runs a statement and returns the number of affected rows (`PQcmdTuples`; 0 when not applicable).
    /// - Throws: as ``query(_:)``.
    @discardableResult
    public func execute(_ query: PostgresQuery) throws -> Int {
        try self.query(query).affectedRows
    }

    /// Like ``query(_:)``, but cancelling the calling task cancels the statement on the server
    /// (`withTaskCancellationHandler` → ``cancel()``), which then throws `.cancelled`.
    ///
    /// A task cancelled before the statement starts throws `.cancelled` without sending it. As with any
    /// libpq cancel, a cancellation that lands in the instant between the check and the statement reaching
    /// the server is not seen by the server; the statement then completes normally.
    public nonisolated func run(_ query: PostgresQuery) async throws -> PostgresResult {
        try await withTaskCancellationHandler {
            try await self.runUnlessCancelled(query)
        } onCancel: {
            self.cancel()
        }
    }

    private func runUnlessCancelled(_ query: PostgresQuery) throws -> PostgresResult {
        if Task.isCancelled {
            throw PostgresError(.cancelled, message: "the task was cancelled before the statement was sent")
        }
        do {
            return try self.query(query)
        } catch var error as PostgresError where error.sqlState == .queryCanceled && Task.isCancelled {
            error.code = .cancelled
            throw error
        }
    }

    /// Asks the server to cancel the statement this connection is running (`PQcancel`). Safe from any
    /// thread or task; does nothing if the connection is closed. The statement then throws `.cancelled`
    /// (SQLSTATE 57014). A cancel sent while nothing runs is ignored by the server.
    public nonisolated func cancel() {
        canceller.cancel()
    }

    // MARK: - Session settings and locks

    /// Sets `statement_timeout` for the session; `nil` (or zero) disables it. Rounded up to milliseconds.
    /// A statement that runs longer throws `.server` with SQLSTATE `.queryCanceled` (57014).
    public func setStatementTimeout(_ timeout: Duration?) throws {
        var milliseconds: Int64 = 0
        if let timeout, timeout > .zero {
            let (seconds, attoseconds) = timeout.components
            let perMillisecond: Int64 = 1_000_000_000_000_000
            milliseconds = seconds * 1000 + attoseconds / perMillisecond + (attoseconds % perMillisecond > 0 ? 1 : 0)
        }
        try execute("SELECT set_config('statement_timeout', \(String(milliseconds)), false)")
    }

    /// Tries to take the session-level advisory lock `key` (`pg_try_advisory_lock`) without waiting.
    /// - Returns: true if this session now holds it (locks are re-entrant: take it twice, release it twice).
    public func tryAdvisoryLock(_ key: Int64) throws -> Bool {
        try query("SELECT pg_try_advisory_lock(\(key))").rows.first?.decode(Bool.self, column: 0) ?? false
    }

    /// Releases the session-level advisory lock `key` (`pg_advisory_unlock`).
    /// - Throws: `.advisoryLockNotHeld` if this session does not hold it.
    public func advisoryUnlock(_ key: Int64) throws {
        let released = try query("SELECT pg_advisory_unlock(\(key))").rows.first?.decode(Bool.self, column: 0) ?? false
        guard released else {
            throw PostgresError(.advisoryLockNotHeld, message: "advisory lock \(key) is not held by this session")
        }
    }

    // MARK: - Transactions

    /// Runs `body` in a transaction: `BEGIN`, then `COMMIT` if it returns, `ROLLBACK` if it throws.
    ///
    /// Errors raised by COMMIT itself (deferred constraints, serialization failures) are thrown. If an error
    /// inside the transaction was caught and ignored, the server rolls back at COMMIT and this throws
    /// `.transactionAborted`. Nested calls use savepoints.
    /// - Parameter body: runs isolated to this connection, on its thread; use its argument to run
    ///   statements. It is `@Sendable` because Swift 6.3 refuses to send a non-Sendable closure with an
    ///   `isolated` parameter to the actor from outside ("sending … risks causing data races").
    /// - Returns: what `body` returned.
    @discardableResult
    public func transaction<T: Sendable>(_ body: @Sendable (isolated PostgresConnection) throws -> T) throws -> T {
        let depth = transactionDepth
        let savepoint = "oauthq_savepoint_\(depth)"
        try execute(depth == 0 ? "BEGIN" : PostgresQuery(unsafeSQL: "SAVEPOINT \(savepoint)"))
        transactionDepth = depth + 1
        defer { transactionDepth = depth }
        let value: T
        do {
            value = try body(self)
        } catch {
            rollback(depth: depth, savepoint: savepoint)
            throw error
        }
        do {
            if depth == 0 {
                let result = try query("COMMIT")
                if result.commandTag == "ROLLBACK" {
                    throw PostgresError(
                        .transactionAborted,
                        message: "COMMIT rolled back the transaction: a statement in it failed and the error was caught"
                    )
                }
            } else {
                try execute(PostgresQuery(unsafeSQL: "RELEASE SAVEPOINT \(savepoint)"))
            }
        } catch {
            rollback(depth: depth, savepoint: savepoint)
            throw error
        }
        return value
    }

    /// Best effort: the original error matters more than a failed ROLLBACK, and a dead connection has no
    /// transaction left to roll back.
    private func rollback(depth: Int, savepoint: String) {
        guard let handle, !isDead, PQstatus(handle) == CONNECTION_OK else { return }
        if depth == 0 {
            let status = PQtransactionStatus(handle)
            guard status == PQTRANS_INTRANS || status == PQTRANS_INERROR else { return }
            _ = try? query("ROLLBACK")
        } else {
            _ = try? query(PostgresQuery(unsafeSQL: "ROLLBACK TO SAVEPOINT \(savepoint)"))
            _ = try? query(PostgresQuery(unsafeSQL: "RELEASE SAVEPOINT \(savepoint)"))
        }
    }

    // MARK: - libpq plumbing

    /// Lays the parameters out in one contiguous buffer (text values NUL-terminated, as libpq requires)
    /// and calls `body` with the arrays `PQexecParams` takes. Pointers are valid only inside `body`.
    private static func withParameters<R>(
        _ binds: [PostgresBind],
        _ body: (
            Int32, UnsafePointer<Oid>?, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?
        ) -> R
    ) throws -> R {
        var storage: [UInt8] = []
        storage.reserveCapacity(binds.reduce(1) { $0 + ($1.bytes?.count ?? 0) + 1 })
        var offsets: [Int?] = []
        var lengths: [Int32] = []
        for (index, bind) in binds.enumerated() {
            guard let bytes = bind.bytes else {
                offsets.append(nil)
                lengths.append(0)
                continue
            }
            guard let length = Int32(exactly: bytes.count) else {
                throw PostgresError(.invalidParameter, message: "parameter $\(index + 1) is larger than 2 GB")
            }
            if bind.format == .text && bytes.contains(0) {
                throw PostgresError(.invalidParameter, message: "parameter $\(index + 1) contains a NUL byte, which PostgreSQL text cannot store")
            }
            offsets.append(storage.count)
            lengths.append(length)
            storage.append(contentsOf: bytes)
            storage.append(0)
        }
        storage.append(0)  // never empty, so the base address is never nil
        let types = binds.map { Oid($0.dataType.rawValue) }
        let formats = binds.map { $0.format.rawValue }
        return storage.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            let values: [UnsafePointer<CChar>?] = offsets.map { offset in offset.map { base + $0 } }
            return body(Int32(binds.count), types, values, lengths, formats)
        }
    }

    private static func serverError(_ result: OpaquePointer, connection: OpaquePointer) -> PostgresError {
        func field(_ code: Int32) -> String? {
            PQresultErrorField(result, code).map { String(cString: $0) }
        }
        var message = field(CLIBPQ_DIAG_MESSAGE_PRIMARY)
        if message == nil, let text = PQresultErrorMessage(result).map({ PostgresError.oneLine(String(cString: $0)) }), !text.isEmpty {
            message = text
        }
        return PostgresError(
            .server,
            sqlState: field(CLIBPQ_DIAG_SQLSTATE).map(SQLState.init(rawValue:)),
            message: message ?? errorMessage(of: connection),
            detail: field(CLIBPQ_DIAG_MESSAGE_DETAIL),
            hint: field(CLIBPQ_DIAG_MESSAGE_HINT),
            constraint: field(CLIBPQ_DIAG_CONSTRAINT_NAME)
        )
    }

    /// Copies every value out of the `PGresult` (which the caller clears).
    private static func decode(_ result: OpaquePointer) -> PostgresResult {
        let fieldCount = PQnfields(result)
        let rowCount = PQntuples(result)
        var names: [String] = []
        var types: [PostgresDataType] = []
        for column in 0..<fieldCount {
            names.append(PQfname(result, column).map { String(cString: $0) } ?? "?column?")
            types.append(PostgresDataType(rawValue: UInt32(PQftype(result, column))))
        }
        let columns = PostgresRow.Columns(names: names, types: types)
        var rows: [PostgresRow] = []
        rows.reserveCapacity(Int(rowCount))
        for row in 0..<rowCount {
            var values: [[UInt8]?] = []
            values.reserveCapacity(Int(fieldCount))
            for column in 0..<fieldCount {
                if PQgetisnull(result, row, column) == 1 {
                    values.append(nil)
                } else {
                    let length = Int(PQgetlength(result, row, column))
                    let bytes = UnsafeRawBufferPointer(start: PQgetvalue(result, row, column), count: length)
                    values.append([UInt8](bytes))
                }
            }
            rows.append(PostgresRow(columns: columns, values: values))
        }
        let affected = PQcmdTuples(result).flatMap { Int(String(cString: $0)) } ?? 0
        let tag = PQcmdStatus(result).map { String(cString: $0) } ?? ""
        return PostgresResult(rows: rows, affectedRows: affected, columns: names, commandTag: tag)
    }
}

/// Owns one `PGconn`: `PQfinish` runs exactly once, when the owner drops it (close or deinit).
/// Not Sendable: it lives inside the actor and is touched only on the connection's thread.
final class PostgresConnectionHandle {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        PQfinish(pointer)
    }
}
