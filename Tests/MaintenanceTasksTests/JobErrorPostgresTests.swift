import CeleryProtocol
import CeleryRedis
import MaintenanceTasks
import Postgres
import Testing
import TestSupport

/// `JobError(postgres:)`: a PostgreSQL error becomes a retry or a failure, and the `django.db.utils` exception
/// Python would see, by code and SQLSTATE only.
@Suite("PostgreSQL error → task error")
struct JobErrorPostgresTests {
    static let bySQLState: [(SQLState, String, JobError.Kind)] = [
        (.uniqueViolation, "IntegrityError", .failure),
        (.foreignKeyViolation, "IntegrityError", .failure),
        (.notNullViolation, "IntegrityError", .failure),
        (.serializationFailure, "OperationalError", .transient),
        (.deadlockDetected, "OperationalError", .transient),
        (.connectionFailure, "OperationalError", .transient),
        (.adminShutdown, "OperationalError", .transient),
        (.cannotConnectNow, "OperationalError", .transient),
        (.undefinedColumn, "ProgrammingError", .failure),
        (.undefinedTable, "ProgrammingError", .failure),
        (.insufficientPrivilege, "ProgrammingError", .failure),
        (.invalidCatalogName, "ProgrammingError", .failure),
        (.invalidTextRepresentation, "DataError", .failure),
        (.numericValueOutOfRange, "DataError", .failure),
        (.inFailedSQLTransaction, "InternalError", .failure),
        (.invalidPassword, "OperationalError", .failure),
        (.tooManyConnections, "OperationalError", .failure),
        (.lockNotAvailable, "OperationalError", .failure),
        (.queryCanceled, "OperationalError", .failure),
        ("0A000", "NotSupportedError", .failure),
        ("P0001", "ProgrammingError", .failure),
        ("F0000", "OperationalError", .failure),
        ("XX000", "InternalError", .failure),
        ("ZZ999", "DatabaseError", .failure),
    ]

    @Test("server errors: kind and exception class by SQLSTATE", arguments: JobErrorPostgresTests.bySQLState)
    func serverError(state: SQLState, type: String, kind: JobError.Kind) {
        let error = JobError(postgres: PostgresError(.server, sqlState: state, message: "something happened"))
        #expect(error.kind == kind)
        #expect(error.exception.type == type)
        #expect(error.exception.module == "django.db.utils")
    }

    static let byCode: [(PostgresError.Code, String, JobError.Kind)] = [
        (.connectionLost, "OperationalError", .transient),
        (.connectionFailed, "OperationalError", .transient),
        (.timeout, "OperationalError", .transient),
        (.authenticationFailed, "OperationalError", .failure),
        (.transactionAborted, "InternalError", .failure),
        (.decoding, "DatabaseError", .failure),
        (.invalidParameter, "DatabaseError", .failure),
    ]

    @Test("client errors without SQLSTATE: kind and exception class by code", arguments: JobErrorPostgresTests.byCode)
    func clientError(code: PostgresError.Code, type: String, kind: JobError.Kind) {
        let error = JobError(postgres: PostgresError(code, message: "client side"))
        #expect(error.kind == kind)
        #expect(error.exception.type == type)
    }

    @Test("the message text never decides: a localised serialization failure retries, an English 'connection refused' unique violation does not")
    func messageTextIgnored() {
        let german = JobError(postgres: PostgresError(.server, sqlState: .serializationFailure, message: "konnte Zugriff nicht serialisieren"))
        #expect(german.kind == .transient)
        let misleading = JobError(postgres: PostgresError(.server, sqlState: .uniqueViolation, message: "connection refused: server closed the connection"))
        #expect(misleading.kind == .failure)
        #expect(misleading.exception.type == "IntegrityError")
    }

    @Test("the message is the error's redacted description: no DETAIL, no quoted input")
    func redacted() {
        let error = JobError(
            postgres: PostgresError(
                .server, sqlState: .invalidTextRepresentation, message: #"invalid input syntax for type integer: "hunter2""#,
                detail: "Key (client_secret)=(hunter2) already exists."))
        let message = error.exception.messages.first?.stringValue ?? ""
        #expect(message.contains("22P02"))
        #expect(!message.contains("hunter2"))
    }
}

/// The same mapping on errors a real PostgreSQL raises, including messages in another language.
@Suite("PostgreSQL error → task error (PostgreSQL)", .enabled(if: TestEnvironment.shouldRunPostgres))
struct JobErrorPostgresServerTests {
    static func connect() async throws -> PostgresConnection {
        try await PostgresConnection.connect(PostgresConfiguration(url: TestEnvironment.databaseURL))
    }

    /// The `PostgresError` the server raises for `sql`.
    static func error(_ sql: PostgresQuery, on connection: PostgresConnection) async throws -> PostgresError {
        let error = await #expect(throws: PostgresError.self) { try await connection.execute(sql) }
        return try #require(error)
    }

    @Test("a unique violation is a failed IntegrityError naming the constraint, not the value")
    func uniqueViolation() async throws {
        let connection = try await Self.connect()
        try await connection.execute("CREATE TEMPORARY TABLE clients (client_id text CONSTRAINT clients_pkey PRIMARY KEY)")
        try await connection.execute("INSERT INTO clients VALUES ('hunter2')")
        let error = JobError(postgres: try await Self.error("INSERT INTO clients VALUES ('hunter2')", on: connection))
        #expect(error.kind == .failure)
        #expect(error.exception.type == "IntegrityError")
        let message = error.exception.messages.first?.stringValue ?? ""
        #expect(message.contains("23505") && message.contains("clients_pkey"))
        #expect(!message.contains("hunter2"))
        await connection.close()
    }

    @Test("an undefined column is a failed ProgrammingError")
    func undefinedColumn() async throws {
        let connection = try await Self.connect()
        let error = JobError(postgres: try await Self.error("SELECT no_such_column FROM pg_class", on: connection))
        #expect(error.kind == .failure)
        #expect(error.exception.type == "ProgrammingError")
        await connection.close()
    }

    @Test("serialization failure and deadlock, raised by the server with German messages: transient OperationalError", arguments: [
        ("serialization_failure", "konnte Zugriff nicht serialisieren"),
        ("deadlock_detected", "Verklemmung (Deadlock) entdeckt"),
    ])
    func transientInAnotherLanguage(condition: String, message: String) async throws {
        let connection = try await Self.connect()
        let raised = try await Self.error(
            PostgresQuery(unsafeSQL: "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '\(condition)', MESSAGE = '\(message)'; END $$"),
            on: connection)
        #expect(raised.message?.contains(message) == true)
        let error = JobError(postgres: raised)
        #expect(error.kind == .transient)
        #expect(error.exception.type == "OperationalError")
        await connection.close()
    }

    @Test("a connection terminated by the server: transient OperationalError")
    func connectionLost() async throws {
        let connection = try await Self.connect()
        let killer = try await Self.connect()
        let pid = try await connection.query("SELECT pg_backend_pid()").rows[0].decode(Int32.self, column: 0)
        #expect(try await killer.query("SELECT pg_terminate_backend(\(pid), 5000)").rows[0].decode(Bool.self, column: 0))
        let error = JobError(postgres: try await Self.error("SELECT 1", on: connection))
        #expect(error.kind == .transient)
        #expect(error.exception.type == "OperationalError")
        await killer.close()
    }
}
