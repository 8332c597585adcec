import Foundation
import CeleryProtocol
import OAuthMaintenance
import Postgres
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The worker's `clearcimdapplications` task and its schema check, end to end: the built `oauthq worker`
/// on its own queue, called by a Celery 5.7 client (`send_task` + `AsyncResult.get`).
@Suite(
    "worker: clearcimdapplications and schema drift",
    .enabled(if: TestEnvironment.shouldRunPostgres && TestEnvironment.shouldRunRedis && PythonReference.shouldRun),
    .timeLimit(.minutes(5))
)
struct MaintenanceWorkerTests {
    /// Sends `calls` with Celery's client and returns each outcome.
    static func call(_ calls: [[String: Any]]) async throws -> [[String: Any]] {
        let input = String(decoding: try JSONSerialization.data(withJSONObject: calls), as: UTF8.self)
        let output = try await ProcessRunner.output(
            RepositoryPaths.venvPython, [RepositoryPaths.root.appendingPathComponent("harness/interop/client.py").path],
            environment: ["REDIS_URL": TestEnvironment.redisURL], removing: ["RESULT_BACKEND"], input: input
        )
        try #require(output.status == 0, "client failed: \(output.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [[String: Any]])
    }

    /// A database with DOT's schema and 12 expired CIMD applications, then `setup` run on it; an
    /// `oauthq worker -c 1` on a queue of its own (also its key prefix) against it, ready; `body`; the worker
    /// stopped (warm shutdown) whether `body` throws or not.
    static func withWorker(
        prefix: String,
        setup: (PostgresConnection) async throws -> Void = { _ in },
        _ body: (_ queue: String, _ worker: WorkerProcess) async throws -> Void
    ) async throws {
        try await TemporaryDatabase.with(prefix: prefix) { database in
            let connection = try await database.connect()
            try await DOTSchema.migrate(on: connection)
            try await insertExpiredCIMDApplications(12, named: "cimd", on: connection)
            try await setup(connection)
            await connection.close()
            let queue = TestEnvironment.uniqueName(prefix)
            let worker = try WorkerProcess(["-c", "1", "-Q", queue, "--key-prefix", queue], environment: ["DATABASE_URL": database.url])
            do {
                try await worker.waitUntilReady()
                try await body(queue, worker)
            } catch {
                await worker.stop()
                throw error
            }
            await worker.stop()
        }
    }

    @Test("clearcimdapplications: a structured result, DOT's CommandError, Python's TypeError and ValueError")
    func task() async throws {
        try await Self.withWorker(prefix: "mw_cc") { queue, _ in
            let outcomes = try await Self.call([
                ["task": "clearcimdapplications", "kwargs": ["batch_size": 5], "queue": queue],
                ["task": "clearcimdapplications", "kwargs": ["batch_size": 0], "queue": queue],
                ["task": "clearcimdapplications", "kwargs": ["batch_size": "many"], "queue": queue],
                ["task": "clearcimdapplications", "kwargs": ["batchsize": 5], "queue": queue],
            ])
            let result = try #require(outcomes[0]["result"] as? [String: Any], "\(outcomes[0])")
            #expect(result["deleted"] as? Int == 12)
            #expect(result["batches"] as? Int == 3)
            #expect(result["batch_size"] as? Int == 5)
            #expect((result["cascaded"] as? [String: Any])?["access_tokens"] as? Int == 0)
            #expect(outcomes[1]["type"] as? String == "CommandError")
            #expect((outcomes[1]["args"] as? [String])?.first == "--batch-size must be a positive integer.")
            #expect(outcomes[2]["type"] as? String == "ValueError")
            #expect(outcomes[3]["type"] as? String == "TypeError")
            #expect((outcomes[3]["args"] as? [String])?.first == "clearcimdapplications() got an unexpected keyword argument 'batchsize'")
        }
    }

    @Test("a Python caller polling AsyncResult sees STARTED, then PROGRESS {step, deleted, batches, fraction} at most once a second, then SUCCESS")
    func progressStates() async throws {
        try await Self.withWorker(prefix: "mw_pg", setup: { try await insertExpiredCIMDApplications(2000, named: "bulk", on: $0) }) { queue, _ in
            let output = try await ProcessRunner.output(
                RepositoryPaths.venvPython,
                [RepositoryPaths.reference("poll_progress.py").path, "clearcimdapplications", queue, #"{"batch_size": 1}"#, "240"],
                environment: ["REDIS_URL": TestEnvironment.redisURL], removing: ["RESULT_BACKEND"]
            )
            try #require(output.status == 0, "poller failed: \(output.stderr)")
            let polled = try #require(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])
            let states = try #require(polled["states"] as? [String])
            #expect(states.first == "STARTED" || states.first == "PENDING", "\(states)")
            #expect(states.contains("STARTED") && states.contains("PROGRESS"), "\(states)")
            #expect(states.last == "SUCCESS")
            #expect((polled["started_info"] as? [String: Any])?["hostname"] is String)
            let progress = try #require(polled["progress"] as? [[String: Any]])
            let seconds = try #require(polled["seconds"] as? Double)
            // At most one PROGRESS write a second (the poller sees at most every write).
            #expect(progress.count <= Int(seconds.rounded(.up)) + 1, "\(progress.count) PROGRESS values in \(seconds) s")
            let last = try #require(progress.last)
            #expect(last["step"] as? String == "clearcimdapplications")
            #expect(Set(last.keys) == ["step", "deleted", "batches", "fraction"])
            let deleted = progress.compactMap { $0["deleted"] as? Int }
            #expect(deleted == deleted.sorted() && deleted.count == progress.count)
            #expect(((polled["result"] as? [String: Any])?["deleted"] as? Int) == 2012)
        }
    }

    @Test("cleartokens with kwarg jobs: the walk split across connections, the same structured result; a bad jobs is a TypeError")
    func clearTokensJobs() async throws {
        try await Self.withWorker(prefix: "mw_ct", setup: { try await insertExpiredAccessTokens(5000, on: $0) }) { queue, _ in
            let outcomes = try await Self.call([
                ["task": "cleartokens", "kwargs": ["jobs": 3, "CLEAR_EXPIRED_TOKENS_BATCH_SIZE": 100], "queue": queue],
                ["task": "cleartokens", "kwargs": ["jobs": "3"], "queue": queue],
            ])
            let result = try #require(outcomes[0]["result"] as? [String: Any], "\(outcomes[0])")
            let steps = try #require(result["steps"] as? [[String: Any]])
            #expect(steps.first { $0["step"] as? String == "expired_access_tokens" }?["deleted"] as? Int == 5000)
            #expect(outcomes[1]["type"] as? String == "TypeError")
        }
    }

    @Test("an added NOT NULL column: createapplication fails with the reason, the rest runs, the log says it once")
    func schemaDrift() async throws {
        let addNotNullColumn: (PostgresConnection) async throws -> Void = { connection in
            try await connection.execute("ALTER TABLE oauth2_provider_application ADD COLUMN jwks_uri text NOT NULL DEFAULT ''")
            try await connection.execute("ALTER TABLE oauth2_provider_application ALTER COLUMN jwks_uri DROP DEFAULT")
        }
        try await Self.withWorker(prefix: "mw_dr", setup: addNotNullColumn) { queue, worker in
            let create: [String: Any] = ["task": "createapplication", "args": ["public", "client-credentials"], "queue": queue]
            let outcomes = try await Self.call([
                create, create, ["task": "clearcimdapplications", "queue": queue],
            ])
            for outcome in outcomes.prefix(2) {
                #expect(outcome["state"] as? String == "FAILURE", "\(outcome)")
                #expect(outcome["type"] as? String == "SchemaDriftError", "\(outcome)")
                #expect((outcome["args"] as? [String])?.first?.contains("oauth2_provider_application.jwks_uri") == true, "\(outcome)")
            }
            #expect((outcomes[2]["result"] as? [String: Any])?["deleted"] as? Int == 12, "\(outcomes[2])")
            let mentions = worker.log.components(separatedBy: "schema check: blocking: column oauth2_provider_application.jwks_uri").count - 1
            #expect(mentions == 1, "\(worker.log)")
            // `oauthq status` shows it too: the worker publishes a notice in its hash with each heartbeat.
            var status = ""
            let deadline = ContinuousClock.now + .seconds(20)
            repeat {
                status = try await ProcessRunner.output(
                    RepositoryPaths.oauthqBinary, ["status", "--key-prefix", queue],
                    environment: ["REDIS_URL": TestEnvironment.redisURL], removing: ["RESULT_BACKEND"]
                ).stdout
                if status.contains("notice: schema drift: refuses createapplication") { break }
                try await Task.sleep(for: .milliseconds(200))
            } while ContinuousClock.now < deadline
            #expect(status.contains("notice: schema drift: refuses createapplication (column oauth2_provider_application.jwks_uri"), "\(status)")
        }
    }
}

/// `oauthq migrate --check` as a process: one line per difference, exit 1 on a blocking one.
@Suite("oauthq migrate --check (CLI)", .enabled(if: TestEnvironment.shouldRunPostgres))
struct MigrateCheckCommandTests {
    static func check(_ database: TemporaryDatabase, environment: [String: String] = [:]) async throws -> ProcessOutput {
        try await ProcessRunner.output(
            RepositoryPaths.oauthqBinary, ["migrate", "--check"], environment: environment.merging(["DATABASE_URL": database.url]) { $1 }
        )
    }

    @Test("DOT 3.4.1's schema: ok, exit 0; harmless drift: listed, exit 0; blocking drift: one line each, exit 1")
    func drift() async throws {
        try await TemporaryDatabase.with(prefix: "mc_cli") { database in
            let connection = try await database.connect()
            try await DOTSchema.migrate(on: connection)
            let clean = try await Self.check(database)
            #expect(clean.status == 0)
            #expect(clean.stdout == "ok: every table and column oauthq uses is present\n")

            try await connection.execute("ALTER TABLE oauth2_provider_application ADD COLUMN note text")
            let harmless = try await Self.check(database)
            #expect(harmless.status == 0)
            #expect(
                harmless.stdout == """
                    harmless: column oauth2_provider_application.note: added nullable column
                    ok: every table and column oauthq uses is present (1 harmless difference(s))

                    """
            )

            try await connection.execute("ALTER TABLE oauth2_provider_accesstoken DROP COLUMN scope")
            try await connection.execute("CREATE TABLE oauth2_provider_parrequest (id bigint PRIMARY KEY)")
            let blocking = try await Self.check(database)
            #expect(blocking.status == 1)
            #expect(
                blocking.stdout.split(separator: "\n") == [
                    "harmless: column oauth2_provider_application.note: added nullable column",
                    "blocking: column oauth2_provider_accesstoken.scope: missing (blocks cleartokens, clearcimdapplications)",
                    "blocking: table oauth2_provider_parrequest: added: not in DOT 3.4.1, a newer DOT's cleartokens may clear it and oauthq would not (blocks cleartokens)",
                ]
            )
            await connection.close()
        }
    }

    @Test("createapplication refuses a table with an added NOT NULL column without a default, naming it")
    func createApplicationRefuses() async throws {
        try await TemporaryDatabase.with(prefix: "mc_ca") { database in
            let connection = try await database.connect()
            try await DOTSchema.migrate(on: connection)
            try await connection.execute("ALTER TABLE oauth2_provider_application ADD COLUMN client_assertion_jwks text NOT NULL")
            await connection.close()
            let output = try await ProcessRunner.output(
                RepositoryPaths.oauthqBinary, ["createapplication", "public", "client-credentials"],
                environment: ["DATABASE_URL": database.url]
            )
            #expect(output.status == 1)
            #expect(output.stdout.isEmpty)
            #expect(output.stderr.hasPrefix("oauthq: error: the database schema differs from DOT 3.4.1's in a way createapplication cannot handle: "))
            #expect(output.stderr.contains("column oauth2_provider_application.client_assertion_jwks: added NOT NULL column without a default"))
            #expect(output.stderr.split(separator: "\n").count == 1)
        }
    }

    @Test("swapped-model settings: the configured tables are the ones checked; a bad setting is one clear line")
    func configuredTables() async throws {
        try await TemporaryDatabase.with(prefix: "mc_swp") { database in
            let connection = try await database.connect()
            try await DOTSchema.migrate(on: connection)
            try await connection.execute("ALTER TABLE oauth2_provider_application RENAME TO myapp_myapplication")
            await connection.close()
            let swapped = try await MigrateCheckCommandTests.check(database, environment: ["OAUTH2_PROVIDER_APPLICATION_MODEL": "myapp.MyApplication"])
            #expect(swapped.status == 0, "\(swapped.stdout)\(swapped.stderr)")
            let unswapped = try await MigrateCheckCommandTests.check(database)
            #expect(unswapped.status == 1)
            #expect(unswapped.stdout.hasPrefix("blocking: table oauth2_provider_application: missing (blocks createapplication, clearcimdapplications)"))
            let bad = try await MigrateCheckCommandTests.check(database, environment: ["AUTH_USER_MODEL": "accounts"])
            #expect(bad.status == 1)
            #expect(bad.stderr == "oauthq: error: ImproperlyConfigured: AUTH_USER_MODEL must be of the form 'app_label.model_name' (or db_table:NAME)\n")
        }
    }
}

/// The inline commands' progress on stderr: a live line on a terminal, periodic lines otherwise.
@Suite("progress lines (CLI)", .enabled(if: TestEnvironment.shouldRunPostgres), .timeLimit(.minutes(3)))
struct ProgressLinesCommandTests {
    static func seeded(_ database: TemporaryDatabase, applications: Int) async throws {
        let connection = try await database.connect()
        try await DOTSchema.migrate(on: connection)
        try await insertExpiredCIMDApplications(applications, named: "cimd", on: connection)
        await connection.close()
    }

    @Test("not a terminal: periodic progress lines on stderr, stdout only DOT's line")
    func periodicLines() async throws {
        try await TemporaryDatabase.with(prefix: "pl_log") { database in
            try await Self.seeded(database, applications: 1500)
            let output = try await ProcessRunner.output(
                RepositoryPaths.oauthqBinary, ["clearcimdapplications", "--batch-size", "1", "--progress-interval", "0.2"],
                environment: ["DATABASE_URL": database.url]
            )
            #expect(output.status == 0, "\(output.stderr)")
            #expect(output.stdout == "Deleted 1500 expired CIMD application(s)\n")
            let lines = output.stderr.split(separator: "\n")
            #expect(lines.count >= 2, "\(output.stderr)")
            #expect(lines.allSatisfy { $0.hasPrefix("progress: clearcimdapplications: ") && $0.contains(" rows/s") }, "\(output.stderr)")
            #expect(!output.stderr.contains("\u{1B}"))
        }
    }

    @Test("a terminal: one live line redrawn in place, then the summary; --no-progress: only the summaries")
    func liveLine() async throws {
        try await TemporaryDatabase.with(prefix: "pl_tty") { database in
            try await Self.seeded(database, applications: 1)
            let connection = try await database.connect()
            try await insertExpiredAccessTokens(40000, on: connection)
            await connection.close()
            let command = "\(RepositoryPaths.oauthqBinary.path) cleartokens --batch-size 50 --database-url '\(database.url)'"
            // util-linux script(1) runs the command on a pseudo-terminal and copies what it wrote.
            let tty = try await ProcessRunner.output(URL(fileURLWithPath: "/usr/bin/script"), ["-qec", command, "/dev/null"])
            #expect(tty.status == 0, "\(tty.stdout)")
            #expect(tty.stdout.contains("\r\u{1B}[2Kexpired_access_tokens: "), "\(tty.stdout.prefix(2000))")
            #expect(tty.stdout.contains("% of ids, ETA "))
            #expect(tty.stdout.contains("\r\u{1B}[2Kstep 4/6 expired_access_tokens: 40000 deleted"))
            let quiet = try await ProcessRunner.output(
                URL(fileURLWithPath: "/usr/bin/script"), ["-qec", command + " --no-progress", "/dev/null"]
            )
            #expect(!quiet.stdout.contains("\u{1B}[2K"))
            #expect(quiet.stdout.contains("step 4/6 expired_access_tokens: 0 deleted"))
        }
    }
}

/// `count` CIMD applications (`client_id` `NAME:1`…) that expired a day ago: what clearcimdapplications deletes.
func insertExpiredCIMDApplications(_ count: Int, named name: String, on connection: PostgresConnection) async throws {
    try await connection.execute(
        """
        INSERT INTO oauth2_provider_application (client_id, redirect_uris, client_type, authorization_grant_type,
            client_secret, name, user_id, skip_authorization, created, updated, algorithm, post_logout_redirect_uris,
            hash_client_secret, allowed_origins, registration_source, cimd_expires_at)
        SELECT \(name) || ':' || n, '', 'public', 'authorization-code', '', 'x', NULL, false, now(), now(), '', '', false, '',
               'cimd', now() - interval '1 day'
        FROM generate_series(1, \(count)) n
        """
    )
}

/// `count` access tokens without application or user that expired an hour ago.
func insertExpiredAccessTokens(_ count: Int, on connection: PostgresConnection) async throws {
    try await connection.execute(
        """
        INSERT INTO oauth2_provider_accesstoken (token, expires, scope, application_id, user_id, created, updated, token_checksum, resource)
        SELECT 't' || n, now() - interval '1 hour', '', NULL, NULL, now(), now(), 'c' || n, '[]' FROM generate_series(1, \(count)) n
        """
    )
}
