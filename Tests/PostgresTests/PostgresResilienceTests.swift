import Foundation
import Postgres
import TestSupport
import Testing

@Suite("Timeouts, cancellation, lost connections, authentication, concurrency", .enabled(if: TestEnvironment.shouldRunPostgres))
struct PostgresResilienceTests {
    @Test("statement_timeout cancels a long statement with 57014; nil disables it again")
    func statementTimeout() async throws {
        let connection = try await PG.connect()
        try await connection.setStatementTimeout(.milliseconds(200))
        #expect(try await connection.query("SHOW statement_timeout").rows[0].decode(String.self, column: 0) == "200ms")
        let start = ContinuousClock.now
        let error = await #expect(throws: PostgresError.self) { try await connection.query("SELECT pg_sleep(5)") }
        #expect(error?.sqlState == .queryCanceled)
        #expect(error?.code == .server)
        #expect(start.elapsed < .seconds(4.5), "the 200 ms timeout, not pg_sleep(5), ended the statement")
        try await connection.setStatementTimeout(nil)
        #expect(try await connection.query("SHOW statement_timeout").rows[0].decode(String.self, column: 0) == "0")
        try await connection.query("SELECT pg_sleep(0.3)")
        #expect(await connection.isConnected)
    }

    @Test("cancel() from another task stops pg_sleep(30) quickly with .queryCanceled", .timeLimit(.minutes(1)))
    func cancelFromAnotherTask() async throws {
        let connection = try await PG.connect()
        let observer = try await PG.connect()
        let pid = try await PG.backendPID(connection)
        let start = ContinuousClock.now
        let sleeper = Task { try await connection.query("SELECT pg_sleep(30)") }
        try await PG.waitUntilActive(pid: pid, observer: observer)
        connection.cancel()
        let error = await #expect(throws: PostgresError.self) { try await sleeper.value }
        #expect(error?.sqlState == .queryCanceled)
        #expect(error?.code == .cancelled)
        #expect(start.elapsed < .seconds(25), "the cancel, not pg_sleep(30), ended the statement")
        #expect(try await connection.query("SELECT 1").rows.count == 1)  // still usable
    }

    @Test("cancelling the task running run(_:) cancels the statement", .timeLimit(.minutes(1)))
    func taskCancellation() async throws {
        let connection = try await PG.connect()
        let observer = try await PG.connect()
        let pid = try await PG.backendPID(connection)
        let start = ContinuousClock.now
        let sleeper = Task { try await connection.run("SELECT pg_sleep(30)") }
        try await PG.waitUntilActive(pid: pid, observer: observer)
        sleeper.cancel()
        let error = await #expect(throws: PostgresError.self) { try await sleeper.value }
        #expect(error?.code == .cancelled)
        #expect(error?.sqlState == .queryCanceled)
        #expect(start.elapsed < .seconds(25), "the cancel, not pg_sleep(30), ended the statement")
        #expect(try await connection.run("SELECT 2").rows[0].decode(Int32.self, column: 0) == 2)
        // Already cancelled before it starts: nothing is sent.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await connection.run("SELECT pg_sleep(30)")
        }
        let earlyError = await #expect(throws: PostgresError.self) { try await early.value }
        #expect(earlyError?.code == .cancelled)
    }

    @Test("Task.cancel() returns at once while the server does not answer the cancel request", .timeLimit(.minutes(1)))
    func cancelDoesNotWaitForAStalledServer() async throws {
        let base = try PG.configuration()
        let proxy = try StallingTCPProxy(targetPort: Int(base["port"] ?? "5432") ?? 5432)
        defer { proxy.close() }
        var configuration = base
        configuration["host"] = "127.0.0.1"
        configuration["hostaddr"] = nil
        configuration["port"] = String(proxy.port)
        let connection = try await PostgresConnection.connect(configuration)
        let observer = try await PG.connect()
        let pid = try await PG.backendPID(connection)
        let sleeper = Task { try await connection.run("SELECT pg_sleep(30)") }
        try await PG.waitUntilActive(pid: pid, observer: observer)
        // From here the "server" accepts the cancel request's connection but never answers it: PQcancel
        // blocks until it is resumed. Cancelling the task must not wait for that.
        proxy.stall()
        let start = ContinuousClock.now
        sleeper.cancel()
        let cancelReturned = start.elapsed
        // A blocking PQcancel here would never return (the test would hang); 1 s allows for a loaded machine.
        #expect(cancelReturned < .seconds(1), "Task.cancel() took \(cancelReturned)")
        proxy.resume()
        let error = await #expect(throws: PostgresError.self) { try await sleeper.value }
        #expect(error?.code == .cancelled)
        #expect(start.elapsed < .seconds(25), "the cancel, sent once the server answered, ended the statement")
    }

    @Test("pg_terminate_backend: next call throws transient .connectionLost, then fails fast, no crash")
    func terminatedBackend() async throws {
        let connection = try await PG.connect()
        let killer = try await PG.connect()
        let pid = try await PG.backendPID(connection)
        let terminated = try await killer.query("SELECT pg_terminate_backend(\(pid), 5000)").rows[0].decode(Bool.self, column: 0)
        #expect(terminated)
        let error = await #expect(throws: PostgresError.self) { try await connection.query("SELECT 1") }
        #expect(error?.code == .connectionLost)
        #expect(error?.isTransient == true)
        #expect(await !connection.isConnected)
        let again = await #expect(throws: PostgresError.self) {
            try await connection.transaction { connection in try connection.execute("SELECT 1") }
        }
        #expect(again?.code == .connectionLost)
        #expect(again?.isTransient == true)
        connection.cancel()  // harmless on a dead connection
        #expect(try await killer.query("SELECT 1").rows.count == 1)
    }

    @Test("server unreachable: .connectionFailed with a one-line message")
    func unreachable() async throws {
        let configuration = try PostgresConfiguration(url: "postgres://postgres@127.0.0.1:1/oauthq", connectTimeout: .seconds(3))
        let start = ContinuousClock.now
        let error = await #expect(throws: PostgresError.self) { try await PostgresConnection.connect(configuration) }
        #expect(error?.code == .connectionFailed)
        #expect(error?.isTransient == true)
        let description = error?.description ?? ""
        #expect(!description.contains("\n"))
        #expect(description.contains("127.0.0.1"))
        #expect(start.elapsed < .seconds(30), "refused, not hung")
    }

    @Test("a missing database: .connectionFailed naming it")
    func missingDatabase() async throws {
        var configuration = try PG.configuration()
        configuration.database = "no_such_database_oauthq"
        let error = await #expect(throws: PostgresError.self) { try await PostgresConnection.connect(configuration) }
        #expect(error?.code == .connectionFailed)
        #expect(error?.description.contains("no_such_database_oauthq") == true)
    }

    @Test("wrong password: .authenticationFailed, password never in the error")
    func wrongPassword() async throws {
        var configuration = try PostgresConfiguration(url: PG.passwordURL)
        configuration["password"] = "wrong-hunter2-password"
        let error = await #expect(throws: PostgresError.self) { try await PostgresConnection.connect(configuration) }
        #expect(error?.code == .authenticationFailed)
        #expect(error?.isTransient == false)
        let text = String(reflecting: error as Any) + (error?.message ?? "")
        #expect(!text.contains("hunter2"))
        #expect(!text.contains("oauthq-test-password"))
        #expect(!(error?.description.contains("\n") ?? true))
    }

    @Test("no password for a password role: .authenticationFailed by libpq's state (PQconnectionNeedsPassword)")
    func missingPassword() async throws {
        var configuration = try PostgresConfiguration(url: PG.passwordURL)
        configuration["password"] = nil
        configuration["passfile"] = "/nonexistent/oauthq-test-pgpass"
        let error = await #expect(throws: PostgresError.self) { try await PostgresConnection.connect(configuration) }
        #expect(error?.code == .authenticationFailed)
        #expect(error?.isTransient == false)
    }

    @Test("correct password (scram-sha-256) connects")
    func correctPassword() async throws {
        let connection = try await PostgresConnection.connect(PostgresConfiguration(url: PG.passwordURL))
        #expect(try await connection.query("SELECT current_user").rows[0].decode(String.self, column: 0) == "oauthq_pw")
    }

    @Test("four connections run blocking statements at the same time (server-side intervals overlap)")
    func parallelConnections() async throws {
        var connections: [PostgresConnection] = []
        for _ in 0..<4 { connections.append(try await PG.connect()) }
        // statement_timestamp(): when the server received the statement; clock_timestamp() in the
        // target list is read after pg_sleep in FROM has returned. Run one after another, each start
        // would follow the previous end.
        let intervals = try await withThrowingTaskGroup(of: (Date, Date).self) { group in
            for connection in connections {
                group.addTask {
                    let row = try await connection.query(
                        "SELECT statement_timestamp(), clock_timestamp() FROM pg_sleep(0.5)"
                    ).rows[0]
                    return (try row.decode(Date.self, column: 0), try row.decode(Date.self, column: 1))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let latestStart = intervals.map(\.0).max()!, earliestEnd = intervals.map(\.1).min()!
        #expect(latestStart < earliestEnd, "the four statements ran one after another")
    }

    @Test("NOTICEs and WARNINGs do not disturb statements")
    func notices() async throws {
        let connection = try await PG.connect()
        try await connection.execute("DO $$ BEGIN RAISE NOTICE 'hello'; RAISE WARNING 'careful'; END $$")
        #expect(try await connection.query("SELECT 1").rows.count == 1)
    }

    @Test("a connection dropped without close() frees its handle and thread (backend goes away)")
    func releasedWithoutClose() async throws {
        let observer = try await PG.connect()
        var connection: PostgresConnection? = try await PG.connect()
        let pid = try await PG.backendPID(connection!)
        connection = nil
        for _ in 0..<100 {
            let alive = try await observer.query("SELECT count(*) FROM pg_stat_activity WHERE pid = \(pid)").rows[0].decode(Int.self, column: 0)
            if alive == 0 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("backend \(pid) still alive after the connection was released")
    }
}
