import Foundation
import CeleryProtocol
import CeleryRedis
import Logging
import MaintenanceTasks
import OAuthMaintenance
import Postgres
import Testing
import TestSupport

/// The worker's task handlers called in-process with a `JobInvocation`, against a real PostgreSQL with DOT's
/// schema (one temporary database per test): results, Python-style argument errors, and what a failure asks
/// the worker to do.
@Suite("worker task handlers, in-process (PostgreSQL)", .enabled(if: TestEnvironment.shouldRunPostgres))
struct WorkerTasksTests {
    /// The sum of the steps' `deleted` in a cleartokens summary.
    static func totalDeleted(_ summary: JSONValue) -> Int64 {
        (summary["steps"]?.arrayValue ?? []).compactMap { $0["deleted"]?.intValue }.reduce(0, +)
    }

    // MARK: - ping

    @Test("ping returns pong; an argument is Python's TypeError, dead-lettered")
    func ping() async throws {
        let tasks = try WorkerTasks(concurrency: 1, databaseURL: nil, environment: [:])
        #expect(try await run(tasks.handlers, invocation("ping")) == "pong")
        let error = await #expect(throws: JobError.self) { try await run(tasks.handlers, invocation("ping", args: [1])) }
        #expect(error?.kind == .invalidArguments)
        #expect(error?.exception.type == "TypeError")
        #expect(error?.exception.messages == ["ping() takes 0 positional arguments but 1 was given"])
    }

    @Test("a swapped application model (another verbose name): a redelivered createapplication still waits for the first delivery")
    func redeliveredCreateApplicationSwapped() async throws {
        try await TemporaryDatabase.with(prefix: "oauthq_tasks") { database in
            let connection = try await database.connect()
            try await DOTSchema.migrate(on: connection)
            // The same columns under the table Django derives for `oauth2_provider.MyApplication`.
            try await connection.execute("ALTER TABLE oauth2_provider_application RENAME TO oauth2_provider_myapplication")
            let tasks = try WorkerTasks(
                concurrency: 1, databaseURL: database.url,
                environment: ["OAUTHQ_PBKDF2_ITERATIONS": "1000", "OAUTH2_PROVIDER_APPLICATION_MODEL": "oauth2_provider.MyApplication"]
            )
            let taskID = UUID().uuidString.lowercased()
            let arguments: [JSONValue] = ["confidential", "client-credentials"]
            _ = try await run(tasks.handlers, invocation(CreateApplicationJob.jobName, id: taskID, args: arguments))
            let again = await #expect(throws: JobError.self) {
                try await run(tasks.handlers, invocation(CreateApplicationJob.jobName, id: taskID, args: arguments, redelivered: true))
            }
            #expect(again?.kind == .busy)
            #expect(try await count("oauth2_provider_myapplication", on: connection) == 1)
            await connection.close()
        }
    }

    // MARK: - cleartokens

    @Test("cleartokens deletes the expired access tokens and keeps the live one; dry_run deletes nothing")
    func clearTokens() async throws {
        try await withTasks { tasks, connection in
            try await connection.execute(
                """
                INSERT INTO oauth2_provider_accesstoken (token, expires, scope, created, updated, token_checksum, resource)
                SELECT 'token-' || g, now() + CASE WHEN g = 0 THEN interval '1 day' ELSE interval '-1 day' END, 'read',
                       now(), now(), md5('token-' || g) || md5('token-' || g), '[]'
                  FROM generate_series(0, 3) AS g
                """)
            let dry = try await run(tasks.handlers, invocation(ClearTokensJob.jobName, kwargs: ["dry_run": true]))
            #expect(dry["dryRun"] == true)
            #expect(try await count("oauth2_provider_accesstoken", on: connection) == 4)

            let summary = try await run(tasks.handlers, invocation(ClearTokensJob.jobName, slot: 1))
            #expect(Self.totalDeleted(summary) == 3)
            #expect(try await count("oauth2_provider_accesstoken", on: connection) == 1)
            let left = try await connection.query("SELECT token FROM oauth2_provider_accesstoken").rows[0].decode(String.self, column: 0)
            #expect(left == "token-0")
        }
    }

    @Test("cleartokens: an unknown kwarg and a jobs of the wrong type are TypeErrors; a bad setting is ImproperlyConfigured")
    func clearTokensArguments() async throws {
        try await withTasks { tasks, _ in
            let unknown = await #expect(throws: JobError.self) {
                try await run(tasks.handlers, invocation(ClearTokensJob.jobName, kwargs: ["bogus": 1]))
            }
            #expect(unknown?.kind == .invalidArguments)
            #expect(unknown?.exception.messages == ["cleartokens() got an unexpected keyword argument 'bogus'"])
            let jobs = await #expect(throws: JobError.self) {
                try await run(tasks.handlers, invocation(ClearTokensJob.jobName, kwargs: ["jobs": "4"]))
            }
            #expect(jobs?.exception.messages == ["cleartokens() argument 'jobs' must be int, not str"])
            let setting = await #expect(throws: JobError.self) {
                try await run(tasks.handlers, invocation(ClearTokensJob.jobName, kwargs: ["CLEAR_EXPIRED_TOKENS_BATCH_SIZE": "many"]))
            }
            #expect(setting?.kind == .failure)
            #expect(setting?.exception.type == "ImproperlyConfigured")
            #expect(setting?.exception.module == "django.core.exceptions")
        }
    }

    // MARK: - createapplication

    @Test("createapplication creates the application, with a client id derived from the task id")
    func createApplication() async throws {
        try await withTasks { tasks, connection in
            let taskID = CeleryMessage.newID()
            let created = try await run(
                tasks.handlers,
                invocation(CreateApplicationJob.jobName, id: taskID, args: ["confidential", "client-credentials"], kwargs: ["name": "billing"]))
            let clientID = try #require(created["client_id"]?.stringValue)
            #expect(clientID.count == 40)
            #expect(clientID.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) })
            #expect(created["name"] == "billing")
            #expect(created["client_secret"]?.stringValue?.isEmpty == false)
            #expect(try await count("oauth2_provider_application", on: connection) == 1)

            // The same task delivered again derives the same client id: the database refuses a second application.
            let again = await #expect(throws: JobError.self) {
                try await run(
                    tasks.handlers,
                    invocation(CreateApplicationJob.jobName, id: taskID, args: ["confidential", "client-credentials"], redelivered: true))
            }
            #expect(again?.kind == .busy)
            let sameID = await #expect(throws: JobError.self) {
                try await run(
                    tasks.handlers,
                    invocation(CreateApplicationJob.jobName, id: taskID, args: ["confidential", "client-credentials"]))
            }
            #expect(sameID?.kind == .failure)
            #expect(sameID?.exception.type == "ValueError")
            #expect(sameID?.exception.messages == [["client_id": ["Application with this Client ID already exists."]]])
            #expect(try await count("oauth2_provider_application", on: connection) == 1)
        }
    }

    @Test("createapplication: a missing positional argument is Python's TypeError; a bad value is DOT's ValueError")
    func createApplicationArguments() async throws {
        try await withTasks { tasks, connection in
            let missing = await #expect(throws: JobError.self) {
                try await run(tasks.handlers, invocation(CreateApplicationJob.jobName, args: ["public"]))
            }
            #expect(missing?.kind == .invalidArguments)
            #expect(missing?.exception.messages == ["createapplication() missing 1 required positional argument: 'authorization_grant_type'"])
            let invalid = await #expect(throws: JobError.self) {
                try await run(tasks.handlers, invocation(CreateApplicationJob.jobName, args: ["secretive", "client-credentials"]))
            }
            #expect(invalid?.kind == .failure)
            #expect(invalid?.exception.type == "ValueError")
            #expect(invalid?.exception.messages.first?["client_type"] != nil)
            let applications = try await count("oauth2_provider_application", on: connection)
            #expect(applications == 0)
        }
    }

    @Test("schema drift: with DOT's application table missing, createapplication is refused with SchemaDriftError")
    func schemaDrift() async throws {
        try await withTasks { tasks, connection in
            try await connection.execute("ALTER TABLE oauth2_provider_application RENAME TO elsewhere")
            let refused = await #expect(throws: JobError.self) {
                try await run(tasks.handlers, invocation(CreateApplicationJob.jobName, args: ["public", "client-credentials"]))
            }
            #expect(refused?.kind == .failure)
            #expect(refused?.exception.type == "SchemaDriftError")
            #expect(try await count("elsewhere", on: connection) == 0)
        }
    }

    // MARK: - clearcimdapplications

    @Test("cleartokens and clearcimdapplications with their lock held elsewhere: a first delivery is skipped, a redelivered one comes back later")
    func lockHeld() async throws {
        try await withTasks { tasks, connection in
            for (name, key) in [(ClearTokensJob.jobName, ClearTokensJob.lockKey), (ClearCIMDApplicationsJob.jobName, ClearCIMDApplicationsJob.lockKey)] {
                #expect(try await connection.tryAdvisoryLock(key))
                #expect(try await run(tasks.handlers, invocation(name)) == ["skipped": "already running"], "\(name)")
                let again = await #expect(throws: JobError.self) { try await run(tasks.handlers, invocation(name, redelivered: true)) }
                #expect(again?.kind == .busy, "\(name)")
                try await connection.advisoryUnlock(key)
            }
        }
    }

    @Test("clearcimdapplications runs on an empty table; a bad batch_size is DOT's error")
    func clearCIMDApplications() async throws {
        try await withTasks { tasks, _ in
            let summary = try await run(tasks.handlers, invocation(ClearCIMDApplicationsJob.jobName, kwargs: ["batch_size": "50"]))
            #expect(summary.objectValue != nil)
            let notNumber = await #expect(throws: JobError.self) {
                try await run(tasks.handlers, invocation(ClearCIMDApplicationsJob.jobName, kwargs: ["batch_size": "fifty"]))
            }
            #expect(notNumber?.exception.type == "ValueError")
            #expect(notNumber?.exception.messages == ["invalid literal for int() with base 10: 'fifty'"])
            let zero = await #expect(throws: JobError.self) {
                try await run(tasks.handlers, invocation(ClearCIMDApplicationsJob.jobName, kwargs: ["batch_size": 0]))
            }
            #expect(zero?.kind == .failure)
            #expect(zero?.exception.type == "CommandError")
            let list = await #expect(throws: JobError.self) {
                try await run(tasks.handlers, invocation(ClearCIMDApplicationsJob.jobName, kwargs: ["batch_size": [1]]))
            }
            #expect(list?.kind == .invalidArguments)
        }
    }

    // MARK: - The database

    @Test("no database configured: the database tasks fail with ImproperlyConfigured (not retried)")
    func noDatabase() async throws {
        let tasks = try WorkerTasks(concurrency: 1, databaseURL: nil, environment: [:])
        let error = await #expect(throws: JobError.self) { try await run(tasks.handlers, invocation(ClearTokensJob.jobName)) }
        #expect(error?.kind == .failure)
        #expect(error?.exception.type == "ImproperlyConfigured")
    }

    @Test("a slot the tasks were not built for is a failure, not a trap")
    func unknownSlot() async throws {
        let tasks = try WorkerTasks(concurrency: 2, databaseURL: nil, environment: [:])
        let error = await #expect(throws: JobError.self) { try await run(tasks.handlers, invocation(ClearTokensJob.jobName, slot: 2)) }
        #expect(error?.kind == .failure)
        #expect(error?.exception.type == "RuntimeError")
    }

    @Test("an unreachable database: a transient OperationalError, so the worker retries it")
    func unreachableDatabase() async throws {
        let port = try TestEnvironment.freeLoopbackPort()
        let tasks = try WorkerTasks(concurrency: 1, databaseURL: "postgres://postgres@127.0.0.1:\(port)/nowhere", environment: [:])
        let error = await #expect(throws: JobError.self) { try await run(tasks.handlers, invocation(ClearTokensJob.jobName)) }
        #expect(error?.kind == .transient)
        #expect(error?.exception.type == "OperationalError")
        #expect(error?.exception.module == "django.db.utils")
    }

    @Test("the slot's connection is terminated between tasks: the next task reconnects and succeeds")
    func reconnectsAfterTermination() async throws {
        try await withTasks { tasks, connection in
            _ = try await run(tasks.handlers, invocation(ClearCIMDApplicationsJob.jobName))
            let terminated = try await connection.query(
                """
                SELECT count(*) FROM (SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()) AS t
                """
            ).rows[0].decode(Int64.self, column: 0)
            #expect(terminated >= 1)
            // The first task on the dead connection may see it break (a transient error the worker retries);
            // by the second, the slot has a new connection.
            var outcomes: [String] = []
            for _ in 0..<2 {
                do {
                    _ = try await run(tasks.handlers, invocation(ClearCIMDApplicationsJob.jobName))
                    outcomes.append("ok")
                } catch let error as JobError {
                    outcomes.append(error.kind == .transient ? "transient" : "\(error)")
                }
            }
            #expect(outcomes == ["ok", "ok"] || outcomes == ["transient", "ok"], "\(outcomes)")
        }
    }

    // MARK: - Configuration

    @Test("settings that do not parse stop the worker at start, one line each", arguments: [
        (["AUTH_USER_MODEL": "accounts"], WorkerTasksConfigurationError.Code.swappedModels,
         "ImproperlyConfigured: AUTH_USER_MODEL must be of the form 'app_label.model_name' (or db_table:NAME)"),
        (["OAUTHQ_PBKDF2_ITERATIONS": "0"], WorkerTasksConfigurationError.Code.createApplicationSettings,
         "ImproperlyConfigured: OAUTHQ_PBKDF2_ITERATIONS must be an integer from 1 to 4294967295"),
    ])
    func badSettings(environment: [String: String], code: WorkerTasksConfigurationError.Code, line: String) throws {
        let error = #expect(throws: WorkerTasksConfigurationError.self) {
            try WorkerTasks(concurrency: 1, databaseURL: nil, environment: environment)
        }
        #expect(error?.code == code)
        #expect(error?.description == line)
    }

    @Test("a cleartokens setting that does not parse stops the worker at start")
    func badClearTokensSetting() throws {
        let error = #expect(throws: WorkerTasksConfigurationError.self) {
            try WorkerTasks(concurrency: 1, databaseURL: nil, environment: ["CLEAR_EXPIRED_TOKENS_BATCH_SIZE": "many"])
        }
        #expect(error?.code == .clearTokensSettings)
        #expect(error?.description.hasPrefix("ImproperlyConfigured: ") == true)
    }

    // MARK: - Debug tasks

    @Test("oauthq.sleep returns what it slept; a string is a TypeError")
    func debugSleep() async throws {
        let handlers = DebugTasks.handlers(logger: Logger(label: "test"))
        #expect(try await run(handlers, invocation(DebugTasks.sleepTaskName, kwargs: ["seconds": 0.01])) == ["slept": 0.01])
        let error = await #expect(throws: JobError.self) {
            try await run(handlers, invocation(DebugTasks.sleepTaskName, kwargs: ["seconds": "1"]))
        }
        #expect(error?.kind == .invalidArguments)
        #expect(error?.exception.messages == ["oauthq.sleep() argument 'seconds' must be int or float, not str"])
    }
}
