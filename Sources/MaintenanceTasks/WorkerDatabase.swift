import CeleryProtocol
import CeleryRedis
import Postgres

/// A slot's PostgreSQL connection, opened on first use and dropped after a connection-level error (the next
/// task reconnects). Used by one slot at a time.
actor WorkerDatabase {
    private let url: String?
    private let metrics: WorkerMetrics?
    private let schema: SchemaGate?
    private var open: PostgresConnection?

    init(url: String?, metrics: WorkerMetrics? = nil, schema: SchemaGate? = nil) {
        self.url = url
        self.metrics = metrics
        self.schema = schema
    }

    func connection() async throws -> PostgresConnection {
        if let open, await open.isConnected { return open }
        guard let url else {
            throw JobError.failure(
                type: "ImproperlyConfigured", module: "django.core.exceptions",
                messages: ["the worker has no database: start it with --database-url or DATABASE_URL"]
            )
        }
        let connection = try await PostgresConnection.connect(PostgresConfiguration(url: url))
        try await schema?.check(on: connection)  // on start and on every reconnect
        open = connection
        return connection
    }

    /// A connection of its own (for a parallel walk's extra slices; the caller closes it).
    func extraConnection() async throws -> PostgresConnection {
        guard let url else { return try await connection() }
        return try await PostgresConnection.connect(PostgresConfiguration(url: url))
    }

    /// The task error for a database error (``JobError/init(postgres:)``), after dropping the
    /// connection when it is no longer usable. A cancelled statement is returned as is: the worker cancelled
    /// the task (time limit, revoke, shutdown) and settles it by its own reason.
    func classify(_ error: PostgresError) async -> any Error {
        if error.code == .cancelled { return error }
        if let open, await !open.isConnected {
            self.open = nil
        }
        if error.code == .connectionLost || error.code == .connectionFailed || error.code == .timeout {
            metrics?.connectionError(.postgresql)
            await open?.close()
            open = nil
        }
        return JobError(postgres: error)
    }
}
