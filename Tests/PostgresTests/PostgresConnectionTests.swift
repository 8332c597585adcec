import Foundation
import Postgres
import TestSupport
import Testing

@Suite("PostgresConnection: queries, transactions, errors", .enabled(if: TestEnvironment.shouldRunPostgres))
struct PostgresConnectionTests {
    @Test("connect, query, execute, affected rows, column names; session is UTC")
    func basics() async throws {
        let connection = try await PG.connect()
        #expect(await connection.isConnected)
        let result = try await connection.query("SELECT 1 AS one, 'two'::text AS two, current_setting('TimeZone') AS tz")
        #expect(result.columns == ["one", "two", "tz"])
        #expect(result.rows.count == 1)
        #expect(try result.rows[0].decode(Int32.self, column: "one") == 1)
        #expect(try result.rows[0].decode(String.self, column: 1) == "two")
        #expect(try result.rows[0].decode(String.self, column: "tz") == "UTC")
        #expect(try await connection.query("SELECT current_setting('application_name')").rows[0].decode(String.self, column: 0) == "oauthq")

        try await connection.execute("CREATE TEMP TABLE items (id int PRIMARY KEY, flag bool NOT NULL DEFAULT false)")
        #expect(try await connection.execute("INSERT INTO items (id) SELECT generate_series(1, 5)") == 5)
        #expect(try await connection.execute("UPDATE items SET flag = true WHERE id <= \(3)") == 3)
        #expect(try await connection.execute("DELETE FROM items WHERE flag = \(true)") == 3)
        let remaining = try await connection.query("SELECT id FROM items ORDER BY id")
        #expect(remaining.affectedRows == 2)
        #expect(try remaining.rows.map { try $0.decode(Int.self, column: 0) } == [4, 5])
    }

    @Test("parameters cannot inject SQL: stored verbatim; multiple statements rejected")
    func injection() async throws {
        try await PG.withTemporaryDatabase { connection in
            try await connection.execute("CREATE TABLE x (id serial PRIMARY KEY, value text NOT NULL)")
            let hostile = "'; DROP TABLE x; --"
            try await connection.execute("INSERT INTO x (value) VALUES (\(hostile))")
            let hostile2 = "1); DELETE FROM x; SELECT (1"
            try await connection.execute("INSERT INTO x (value) VALUES (\(hostile2))")
            let values = try await connection.query("SELECT value FROM x ORDER BY id").rows.map { try $0.decode(String.self, column: 0) }
            #expect(values == [hostile, hostile2])
            let found = try await connection.query("SELECT count(*) FROM x WHERE value = \(hostile)").rows[0].decode(Int.self, column: 0)
            #expect(found == 1)
            // PQexecParams refuses several statements in one call.
            let error = await #expect(throws: PostgresError.self) {
                try await connection.execute("SELECT 1; DROP TABLE x")
            }
            #expect(error?.sqlState == .syntaxError)
            #expect(try await connection.query("SELECT count(*) FROM x").rows[0].decode(Int.self, column: 0) == 2)
        }
    }

    @Test("server error: SQLSTATE and message; connection stays usable")
    func serverError() async throws {
        let connection = try await PG.connect()
        let error = await #expect(throws: PostgresError.self) {
            try await connection.query("SELECT * FROM table_that_does_not_exist_\(unsafeSQL: "42")")
        }
        #expect(error?.code == .server)
        #expect(error?.sqlState == .undefinedTable)
        #expect(error?.message?.contains("does not exist") == true)
        #expect(try await connection.query("SELECT 1").rows.count == 1)
        #expect(await connection.isConnected)
    }

    @Test("unique violation: sqlState and constraint; description never shows the value")
    func uniqueViolation() async throws {
        let connection = try await PG.connect()
        try await connection.execute(
            "CREATE TEMP TABLE apps (id serial PRIMARY KEY, client_id text NOT NULL CONSTRAINT apps_client_id_key UNIQUE)"
        )
        let clientID = "client-\(UUID().uuidString)"
        try await connection.execute("INSERT INTO apps (client_id) VALUES (\(clientID))")
        do {
            try await connection.execute("INSERT INTO apps (client_id) VALUES (\(clientID))")
            Issue.record("expected a unique violation")
        } catch let error as PostgresError where error.sqlState == .uniqueViolation {
            #expect(error.code == .server)
            #expect(error.constraint == "apps_client_id_key")
            #expect(!error.description.contains(clientID))
            #expect(!String(reflecting: error).contains(clientID))
            #expect(error.detail?.contains(clientID) == true)  // why detail stays out of descriptions
            #expect(!error.isTransient)
        }
    }

    @Test("transaction commits the body's work and returns its value")
    func transactionCommit() async throws {
        let connection = try await PG.connect()
        try await connection.execute("CREATE TEMP TABLE t (v int)")
        let count = try await connection.transaction { connection in
            try connection.execute("INSERT INTO t VALUES (1), (2)")
            return try connection.query("SELECT count(*) FROM t").rows[0].decode(Int.self, column: 0)
        }
        #expect(count == 2)
        #expect(try await connection.query("SELECT count(*) FROM t").rows[0].decode(Int.self, column: 0) == 2)
    }

    struct BodyFailed: Error, Equatable {}

    @Test("transaction rolls back when the body throws, and rethrows that error")
    func transactionRollback() async throws {
        let connection = try await PG.connect()
        try await connection.execute("CREATE TEMP TABLE t (v int)")
        await #expect(throws: BodyFailed()) {
            try await connection.transaction { connection in
                try connection.execute("INSERT INTO t VALUES (1)")
                throw BodyFailed()
            }
        }
        #expect(try await connection.query("SELECT count(*) FROM t").rows[0].decode(Int.self, column: 0) == 0)
        // A failing statement inside the body: rolled back, the server error is rethrown.
        let error = await #expect(throws: PostgresError.self) {
            try await connection.transaction { connection in
                try connection.execute("INSERT INTO t VALUES (1)")
                try connection.execute("SELECT 1 / 0")
            }
        }
        #expect(error?.sqlState == .divisionByZero)
        #expect(try await connection.query("SELECT count(*) FROM t").rows[0].decode(Int.self, column: 0) == 0)
    }

    @Test("deferred FK violation surfaces at COMMIT with the constraint name")
    func deferredForeignKey() async throws {
        let connection = try await PG.connect()
        try await connection.execute("CREATE TEMP TABLE parent (id int PRIMARY KEY)")
        try await connection.execute(
            """
            CREATE TEMP TABLE child (id int PRIMARY KEY, parent_id int CONSTRAINT child_parent_fk \
            REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)
            """
        )
        let error = await #expect(throws: PostgresError.self) {
            try await connection.transaction { connection in
                try connection.execute("INSERT INTO child VALUES (1, 999)")  // fine until COMMIT
            }
        }
        #expect(error?.sqlState == .foreignKeyViolation)
        #expect(error?.constraint == "child_parent_fk")
        #expect(try await connection.query("SELECT count(*) FROM child").rows[0].decode(Int.self, column: 0) == 0)
        // No transaction is left open: a new one works.
        try await connection.transaction { connection in
            try connection.execute("INSERT INTO parent VALUES (1)")
        }
        #expect(try await connection.query("SELECT count(*) FROM parent").rows[0].decode(Int.self, column: 0) == 1)
    }

    @Test("a caught error inside a transaction makes COMMIT throw .transactionAborted")
    func abortedTransaction() async throws {
        let connection = try await PG.connect()
        try await connection.execute("CREATE TEMP TABLE t (v int)")
        let error = await #expect(throws: PostgresError.self) {
            try await connection.transaction { connection in
                try connection.execute("INSERT INTO t VALUES (1)")
                _ = try? connection.execute("SELECT 1 / 0")
            }
        }
        #expect(error?.code == .transactionAborted)
        #expect(try await connection.query("SELECT count(*) FROM t").rows[0].decode(Int.self, column: 0) == 0)
    }

    @Test("nested transaction uses a savepoint: the inner failure keeps the outer work")
    func nestedTransaction() async throws {
        let connection = try await PG.connect()
        try await connection.execute("CREATE TEMP TABLE t (v int)")
        try await connection.transaction { connection in
            try connection.execute("INSERT INTO t VALUES (1)")
            do {
                try connection.transaction { connection in
                    try connection.execute("INSERT INTO t VALUES (2)")
                    try connection.execute("SELECT 1 / 0")
                }
            } catch SQLState.divisionByZero {
                // expected; the outer transaction continues
            }
            try connection.execute("INSERT INTO t VALUES (3)")
        }
        let values = try await connection.query("SELECT v FROM t ORDER BY v").rows.map { try $0.decode(Int.self, column: 0) }
        #expect(values == [1, 3])
    }

    @Test("advisory lock: exclusive across sessions, released by advisoryUnlock")
    func advisoryLock() async throws {
        let first = try await PG.connect()
        let second = try await PG.connect()
        let key = Int64.random(in: 1...Int64.max)
        #expect(try await first.tryAdvisoryLock(key))
        #expect(try await second.tryAdvisoryLock(key) == false)
        try await first.advisoryUnlock(key)
        #expect(try await second.tryAdvisoryLock(key))
        #expect(try await first.tryAdvisoryLock(key) == false)
        try await second.advisoryUnlock(key)
        let error = await #expect(throws: PostgresError.self) { try await second.advisoryUnlock(key) }
        #expect(error?.code == .advisoryLockNotHeld)
    }

    @Test("a NUL byte in a text parameter is rejected before sending")
    func nulInText() async throws {
        let connection = try await PG.connect()
        let error = await #expect(throws: PostgresError.self) { try await connection.query("SELECT \("a\u{0}b")") }
        #expect(error?.code == .invalidParameter)
        #expect(try await connection.query("SELECT 1").rows.count == 1)
    }

    @Test("close: later calls throw .connectionClosed")
    func close() async throws {
        let connection = try await PG.connect()
        await connection.close()
        #expect(await !connection.isConnected)
        let error = await #expect(throws: PostgresError.self) { try await connection.query("SELECT 1") }
        #expect(error?.code == .connectionClosed)
        await connection.close()
    }
}
