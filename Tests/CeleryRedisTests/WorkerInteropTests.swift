import Foundation
import CeleryProtocol
import OAuthMaintenance
import Postgres
import Redis
import Testing
import TestSupport

/// The real Celery 5.7 client (`.venv`, harness/interop/client.py) against `oauthq worker`: `send_task` of each
/// task, `AsyncResult.get()`. Under CI a missing venv fails these tests instead of skipping them.
@Suite(
    "oauthq worker with Celery 5.7's client",
    .enabled(if: TestEnvironment.shouldRunRedis && TestEnvironment.shouldRunPostgres && PythonReference.shouldRun),
    .serialized
)
struct WorkerInteropTests {
    /// Runs client.py with `calls`; returns one outcome object per call.
    static func client(_ calls: [JSONValue], broker: String = TestEnvironment.redisURL) async throws -> [JSONObject] {
        guard FileManager.default.isExecutableFile(atPath: RepositoryPaths.venvPython.path) else {
            throw WorkerProcessError(message: "no Python venv at \(RepositoryPaths.venvPython.path): run scripts/python-env.sh")
        }
        let output = try await ProcessRunner.output(
            RepositoryPaths.venvPython,
            [RepositoryPaths.root.appendingPathComponent("harness/interop/client.py").path],
            environment: ["REDIS_URL": broker],
            removing: ["RESULT_BACKEND"],
            input: JSONValue.array(calls).jsonString
        )
        guard output.status == 0, case .array(let outcomes) = try JSONValue.parse(output.stdout).get() else {
            throw WorkerProcessError(message: "client.py failed (\(output.status)): \(output.stderr)")
        }
        return outcomes.compactMap(\.objectValue)
    }

    @Test("send_task of ping, cleartokens, createapplication returns their results; errors raise the right exceptions")
    func tasks() async throws {
        try await TemporaryDatabase.with(prefix: "oauthq_worker") { database in
            let db = try await database.connect()
            _ = try await DOTSchema.migrate(on: db)
            await db.close()

            let queue = TestEnvironment.uniqueName("interop")
            let prefix = TestEnvironment.uniqueName("oauthq_interop")
            let worker = try WorkerProcess(
                ["-Q", queue, "-c", "2", "--key-prefix", prefix, "--result-expires", "600", "--task-alias", "tutorial.tasks.clear_tokens=cleartokens"],
                environment: ["DATABASE_URL": database.url, "OAUTHQ_PBKDF2_ITERATIONS": "1000"]
            )
            try await worker.waitUntilReady()

            let q = JSONValue.string(queue)
            let outcomes = try await Self.client([
                ["task": "ping", "queue": q],
                ["task": "cleartokens", "queue": q, "kwargs": ["REFRESH_TOKEN_EXPIRE_SECONDS": 3600]],
                ["task": "tutorial.tasks.clear_tokens", "queue": q, "kwargs": ["refresh_token_expire_seconds": 60, "dry_run": true]],
                [
                    "task": "createapplication", "queue": q, "args": ["confidential", "authorization-code"],
                    "kwargs": ["name": "svc", "redirect_uris": "https://example.com/cb"],
                ],
                [
                    "task": "createapplication", "queue": q,
                    "kwargs": ["client_type": "public", "authorization_grant_type": "client-credentials", "client_id": "fixed-id", "client_secret": "given"],
                ],
                ["task": "createapplication", "queue": q, "args": ["foo", "authorization-code"]],
                ["task": "ping", "queue": q, "expires": -5],
                ["task": "ping", "queue": q, "countdown": 1],
                ["task": "createapplication", "queue": q, "args": ["confidential"]],
                ["task": "no.such.task", "queue": q],
            ])
            try #require(outcomes.count == 10)

            #expect(outcomes[0]["result"] == "pong")

            let summary = try #require(outcomes[1]["result"]?.objectValue)
            #expect(summary["steps"]?.arrayValue?.count == 6 || summary["skipped"] == "already running")
            #expect(outcomes[1]["result"]?.objectValue?["steps"] != nil || outcomes[2]["result"]?.objectValue?["steps"] != nil)
            // Two cleartokens on two slots: the second may find the first holding the lock.
            let aliased = try #require(outcomes[2]["result"]?.objectValue)
            #expect(aliased["dryRun"] == true || aliased["skipped"] == "already running")

            let created = try #require(outcomes[3]["result"]?.objectValue)
            #expect(created["name"] == "svc")
            #expect(created["id"]?.intValue != nil)
            #expect(created["client_id"]?.stringValue?.count == 40)
            #expect(created["client_secret"]?.stringValue?.count == 128)

            let given = try #require(outcomes[4]["result"]?.objectValue)
            #expect(given["client_id"] == "fixed-id")
            #expect(given["client_secret"] == nil)

            // DOT's validation: ValueError({"client_type": ["Value 'foo' is not a valid choice."]}).
            #expect(outcomes[5]["ok"] == false)
            #expect(outcomes[5]["type"] == "ValueError")
            let fields = try #require(outcomes[5]["args"]?.arrayValue?.first?.objectValue)
            #expect(fields["client_type"]?.arrayValue?.first?.stringValue?.contains("is not a valid choice") == true)

            #expect(outcomes[6]["type"] == "TaskRevokedError")
            #expect(outcomes[6]["args"] == ["expired"])
            #expect(outcomes[6]["state"] == "REVOKED")

            #expect(outcomes[7]["result"] == "pong")

            #expect(outcomes[8]["type"] == "TypeError")
            #expect(outcomes[8]["args"]?.arrayValue?.first?.stringValue?.contains("missing 1 required positional argument: 'authorization_grant_type'") == true)
            #expect(outcomes[9]["type"] == "NotRegistered")

            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0)
            let log = worker.log
            #expect(!log.contains("https://example.com/cb"), "task arguments must not be logged")
            #expect(log.contains("task ping["))

            let redis = try await RedisConnection.connect(RedisConfiguration(url: TestEnvironment.redisURL))
            #expect(try await redis.command("LLEN", prefix + ":dead").int == 2)  // wrong arguments, unknown task
            _ = try await redis.command("DEL", prefix + ":dead")
            await redis.close()
        }
    }

    @Test("priorities: 0 is served first, then 3–5, 6–8, 9 (kombu's Redis order)")
    func priorities() async throws {
        let queue = TestEnvironment.uniqueName("prio")
        let prefix = TestEnvironment.uniqueName("oauthq_prio")
        let priorities = [9, 6, 3, 0, 9, 0, 4, 7]
        let sent = try await Self.client(priorities.map { ["task": "ping", "queue": .string(queue), "priority": .int(Int64($0)), "send_only": true] })
        let worker = try WorkerProcess(["-Q", queue, "-c", "1", "--key-prefix", prefix, "--result-expires", "600"])
        try await worker.waitUntilReady()
        let outcomes = try await Self.client(sent.map { ["get": $0["id"] ?? .null] })
        worker.send(SIGTERM)
        #expect(await worker.waitForExit() == 0)
        let done = outcomes.compactMap { $0["date_done"]?.stringValue }
        try #require(done.count == priorities.count)
        let served = zip(priorities, done).sorted { $0.1 < $1.1 }.map { CeleryQueue.step(forPriority: $0.0) }
        #expect(served == served.sorted(), "served in priority-step order: \(served)")
    }
}
