import CeleryProtocol
import CeleryRedis
import MaintenanceTasks
import OAuthMaintenance
import Postgres
import Testing
import TestSupport

/// A `JobInvocation` as the worker builds one from a fetched message.
func invocation(
    _ task: String, id: String = CeleryMessage.newID(), args: [JSONValue] = [], kwargs: JSONObject = [:],
    redelivered: Bool = false, slot: Int = 0
) -> JobInvocation {
    var message = CeleryMessage.make(taskName: task, id: id, args: args, kwargs: kwargs)
    message.isRedelivered = redelivered
    return JobInvocation(message: message, taskName: task, slot: slot, queue: CeleryQueue.defaultQueue)
}

/// Runs the handler registered for `invocation.taskName`, as the worker would.
func run(_ handlers: [String: JobHandler], _ invocation: JobInvocation) async throws -> JSONValue {
    let handler = try #require(handlers[invocation.taskName], "no handler for \(invocation.taskName)")
    return try await handler(invocation)
}

/// A temporary database with DOT's schema, and the worker's tasks on it (two slots; fast password hashing).
func withTasks(
    environment: [String: String] = [:],
    _ body: (WorkerTasks, PostgresConnection) async throws -> Void
) async throws {
    try await TemporaryDatabase.with(prefix: "oauthq_tasks") { database in
        let connection = try await database.connect()
        try await DOTSchema.migrate(on: connection)
        let tasks = try WorkerTasks(
            concurrency: 2, databaseURL: database.url,
            environment: ["OAUTHQ_PBKDF2_ITERATIONS": "1000"].merging(environment) { _, given in given }
        )
        try await body(tasks, connection)
        await connection.close()
    }
}

/// `SELECT count(*) FROM <table>`; `table` is a constant of the test.
func count(_ table: String, on connection: PostgresConnection) async throws -> Int64 {
    try await connection.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)")).rows[0].decode(Int64.self, column: 0)
}
