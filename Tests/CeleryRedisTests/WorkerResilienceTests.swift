import Foundation
import CeleryProtocol
import CeleryRedis
import OAuthMaintenance
import Postgres
import Redis
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `oauthq worker` processes under failure: kill -9 mid-task, warm shutdown under load, a second signal,
/// a Redis restart, and a flood of poison messages.
@Suite(
    "oauthq worker resilience",
    .enabled(if: TestEnvironment.shouldRunRedis && TestEnvironment.shouldRunPostgres),
    .serialized
)
struct WorkerResilienceTests {
    /// Every DOT table cleartokens touches, locked by a transaction on `connection` so that a cleartokens run
    /// blocks on its first statement: a task reliably "in the middle".
    static func lockTokenTables(_ connection: PostgresConnection) async throws {
        try await connection.execute("BEGIN")
        try await connection.execute(
            "LOCK TABLE oauth2_provider_accesstoken, oauth2_provider_refreshtoken, oauth2_provider_idtoken, oauth2_provider_grant IN ACCESS EXCLUSIVE MODE"
        )
    }

    /// Waits (bounded) until a session of `database` waits on a lock: a cleartokens run is in the middle of its
    /// first statement, not just fetched.
    static func waitForLockWaiter(_ database: TemporaryDatabase) async throws -> Bool {
        let observer = try await database.connect()
        let waiting = try await eventually {
            try await observer.query(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).rows.first?.decode(Int.self, column: 0) ?? 0 > 0
        }
        await observer.close()
        return waiting
    }

    static func redis(_ url: String = TestEnvironment.redisURL) async throws -> RedisConnection {
        try await RedisConnection.connect(RedisConfiguration(url: url))
    }

    @Test("a worker killed with -9 in the middle of a task: another worker finishes it, nothing is lost")
    func killNine() async throws {
        try await TemporaryDatabase.with(prefix: "oauthq_crash") { database in
            let setup = try await database.connect()
            _ = try await DOTSchema.migrate(on: setup)
            let scope = try await BrokerScope.make("crash")
            let arguments = ["-Q", scope.queue, "-c", "1", "--key-prefix", scope.prefix, "--result-expires", "600"]
            let environment = ["DATABASE_URL": database.url, "REFRESH_TOKEN_EXPIRE_SECONDS": "3600"]

            try await Self.lockTokenTables(setup)
            let first = try WorkerProcess(arguments, environment: environment)
            try await first.waitUntilReady()
            let clear = try await scope.publish("cleartokens")
            var pings: [String] = []
            for _ in 0..<5 { pings.append(try await scope.publish("ping").id) }
            // The cleartokens message is in the worker's processing list, its query waiting on the lock.
            let inFlight = try await eventually {
                let lists = try await scope.connection.command("KEYS", scope.prefix + ":processing:*").array ?? []
                for list in lists.compactMap(\.string) where try await scope.length(list) > 0 { return true }
                return false
            }
            #expect(inFlight)
            // Running, not just fetched: its statement waits on the table lock (seen from another session).
            #expect(try await Self.waitForLockWaiter(database))
            await first.killHard()
            let killed = ContinuousClock.now
            try await setup.execute("COMMIT")  // the dead worker's backend finishes and goes away

            let second = try WorkerProcess(arguments, environment: environment)
            try await second.waitUntilReady()
            let finished = try await eventually(timeout: .seconds(60)) {
                try await resultStates([clear.id] + pings, on: scope.connection).values.filter { $0.state == .success }.count == 6
            }
            #expect(finished, "log of the second worker:\n\(second.log)")
            // Heartbeat TTL (5 s) + reaper + the run; generous for a loaded machine, far below "never".
            #expect(ContinuousClock.now - killed < .seconds(45))
            let summary = try await scope.result(clear.id)
            #expect(summary?.result.objectValue?["steps"] != nil || summary?.result.objectValue?["skipped"] != nil)
            #expect(second.log.contains("returned 1 message(s) of dead workers"))
            #expect(try await scope.length(scope.queue) == 0)

            second.send(SIGTERM)
            #expect(await second.waitForExit() == 0)
            // Both workers are forgotten: the dead one by the reaper, the second on exit.
            #expect(try await scope.connection.command("SCARD", scope.prefix + ":workers").int == 0)
            await scope.cleanup()
            await setup.close()
        }
    }

    @Test("warm shutdown under load loses nothing; a second worker drains the rest")
    func warmShutdownUnderLoad() async throws {
        let scope = try await BrokerScope.make("drain")
        let count = 3000
        let messages = (0..<count).map { _ in CeleryMessage.make(taskName: "ping", queue: scope.queue) }
        try await pushAll(messages.map(\.raw), list: scope.queue, on: scope.connection)
        let ids = messages.map(\.id)

        let worker = try WorkerProcess(["-Q", scope.queue, "-c", "2", "--key-prefix", scope.prefix, "--result-expires", "600", "-l", "warning"])
        let started = try await eventually { try await scope.length(scope.queue) < count - 200 }
        #expect(started)
        worker.send(SIGTERM)
        #expect(await worker.waitForExit() == 0, "\(worker.log)")
        let left = try await scope.length(scope.queue)
        let done = try await resultStates(ids, on: scope.connection)
        #expect(done.count + left == count, "every message is either done or still queued")
        #expect(done.values.allSatisfy { $0.state == .success })
        #expect(try await scope.connection.command("KEYS", scope.prefix + ":processing:*").array?.isEmpty == true)

        let drainer = try WorkerProcess(["-Q", scope.queue, "-c", "2", "--key-prefix", scope.prefix, "--result-expires", "600", "-l", "warning"])
        let drained = try await eventually(timeout: .seconds(60)) { try await scope.length(scope.queue) == 0 }
        #expect(drained)
        let all = try await eventually { try await resultStates(ids, on: scope.connection).count == count }
        #expect(all)
        drainer.send(SIGINT)
        #expect(await drainer.waitForExit() == 0)
        await scope.cleanup()
    }

    @Test("a second signal returns a running task to its queue at once, marked redelivered")
    func secondSignal() async throws {
        try await TemporaryDatabase.with(prefix: "oauthq_abort") { database in
            let setup = try await database.connect()
            _ = try await DOTSchema.migrate(on: setup)
            let scope = try await BrokerScope.make("abort")
            try await Self.lockTokenTables(setup)
            let worker = try WorkerProcess(
                ["-Q", scope.queue, "-c", "1", "--key-prefix", scope.prefix, "--result-expires", "600", "--shutdown-timeout", "60"],
                environment: ["DATABASE_URL": database.url]
            )
            try await worker.waitUntilReady()
            let clear = try await scope.publish("cleartokens")
            #expect(try await eventually { try await scope.length(scope.queue) == 0 })
            #expect(try await Self.waitForLockWaiter(database), "cleartokens is running, blocked on the lock")
            worker.send(SIGTERM)
            #expect(await worker.waitForLog("warm shutdown", timeout: .seconds(10)), "\(worker.log)")
            #expect(worker.isRunning, "the first signal waits for the running task")
            worker.send(SIGTERM)
            #expect(await worker.waitForExit(timeout: .seconds(10)) == 0, "\(worker.log)")
            try await scope.expectReturnedUnrun(clear.id)
            try await setup.execute("ROLLBACK")
            await setup.close()
            await scope.cleanup()
        }
    }

    @Test("Redis restarted mid-stream: the worker reconnects and goes on")
    func redisRestart() async throws {
        let server = try RedisTestServer(.init(durable: true))
        try server.start()
        defer { server.stop() }
        let url = server.url()
        let connection = try await Self.redis(url)
        let queue = TestEnvironment.uniqueName("restart")
        let worker = try WorkerProcess(["-Q", queue, "-c", "2", "--result-expires", "600"], environment: ["REDIS_URL": url])
        try await worker.waitUntilReady()

        var ids: [String] = []
        func enqueue(_ n: Int, on connection: RedisConnection) async throws {
            let batch = (0..<n).map { _ in CeleryMessage.make(taskName: "ping", queue: queue) }
            ids += batch.map(\.id)
            try await pushAll(batch.map(\.raw), list: queue, on: connection)
        }
        try await enqueue(200, on: connection)
        #expect(try await eventually { try await resultStates(ids, on: connection).count == 200 })

        server.kill()
        // Down until the worker has noticed (a slot's Redis error), then back on the same port with its data.
        #expect(await worker.waitForLog("Redis error", timeout: .seconds(15)), "\(worker.log)")
        try server.start()
        let again = try await Self.redis(url)
        try await enqueue(200, on: again)
        let all = try await eventually(timeout: .seconds(30)) { try await resultStates(ids, on: again).count == 400 }
        #expect(all, "\(worker.log)")
        #expect(worker.isRunning)
        #expect(worker.log.contains("connected to Redis again"))
        worker.send(SIGTERM)
        #expect(await worker.waitForExit() == 0)
        await again.close()
    }

    @Test("PostgreSQL unreachable: the task is retried with backoff (RETRY stored, retries + 1), then fails")
    func databaseDown() async throws {
        let scope = try await BrokerScope.make("pgdown")
        let worker = try WorkerProcess(
            [
                "-Q", scope.queue, "-c", "1", "--key-prefix", scope.prefix, "--result-expires", "600", "--max-retries", "2",
                "--retry-backoff", "0.05",
            ],
            environment: ["DATABASE_URL": "postgres://postgres@127.0.0.1:1/nowhere"]
        )
        try await worker.waitUntilReady()
        let message = try await scope.publish("cleartokens")
        #expect(try await eventually { try await scope.result(message.id)?.state == .failure }, "\(worker.log)")
        #expect(try await scope.result(message.id)?.exception?.type == "OperationalError")
        #expect(worker.log.components(separatedBy: "] RETRY in").count - 1 == 2)
        worker.send(SIGTERM)
        #expect(await worker.waitForExit() == 0)
        await scope.cleanup()
    }

    @Test("1,000 malformed messages become 1,000 dead letters; the worker keeps serving")
    func poison() async throws {
        let scope = try await BrokerScope.make("poison")
        var garbage: [[UInt8]] = []
        var idsWithResults: [String] = []
        for index in 0..<1000 {
            switch index % 5 {
            case 0: garbage.append(Array("not json \(index)".utf8))
            case 1: garbage.append(Array("[1, 2, \(index)]".utf8))
            case 2:
                let id = CeleryMessage.newID()
                idsWithResults.append(id)
                garbage.append(Array(#"{"body": "!!!", "content-type": "application/json", "content-encoding": "utf-8", "headers": {"task": "ping", "id": "\#(id)"}, "properties": {"body_encoding": "base64"}}"#.utf8))
            case 3:
                let message = CeleryMessage.make(taskName: "unknown.task.\(index)", queue: scope.queue)
                idsWithResults.append(message.id)
                garbage.append(message.raw)
            default:
                let message = CeleryMessage.make(taskName: "ping", args: [1, 2], queue: scope.queue)
                idsWithResults.append(message.id)
                garbage.append(message.raw)
            }
        }
        try await pushAll(garbage, list: scope.queue, on: scope.connection)
        let worker = try WorkerProcess(["-Q", scope.queue, "-c", "2", "--key-prefix", scope.prefix, "--result-expires", "600", "-l", "error"])
        let dead = try await eventually(timeout: .seconds(60)) { try await scope.length(scope.prefix + ":dead") == 1000 }
        #expect(dead, "\(worker.log)")
        let records = try await scope.list(scope.prefix + ":dead").map { try DeadLetter.decode($0).get() }
        #expect(Set(records.map(\.original)) == Set(garbage))
        let failures = try await resultStates(idsWithResults, on: scope.connection)
        #expect(failures.count == idsWithResults.count)
        #expect(failures.values.allSatisfy { $0.state == .failure })

        let ping = try await scope.publish("ping")
        #expect(try await eventually { try await scope.result(ping.id)?.state == .success })
        worker.send(SIGTERM)
        #expect(await worker.waitForExit() == 0)
        await scope.cleanup()
    }
}
