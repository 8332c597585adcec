import Foundation
import CeleryProtocol
import CeleryRedis
import Redis
import Synchronization
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Celery's own tools steering oauthq workers, run as the real CLIs against the real binary: `celery inspect`,
/// `celery control`, `oauthq revoke`, `oauthq queues pause|resume`, and `/healthz`.
@Suite(
    "Celery tools see and steer oauthq workers",
    .enabled(if: TestEnvironment.shouldRunRedis && PythonReference.shouldRun)
)
struct CeleryToolsTests {
    static func oauthq(_ arguments: [String], redisURL: String) async throws -> ProcessOutput {
        try await ProcessRunner.output(RepositoryPaths.oauthqBinary, arguments, environment: ["REDIS_URL": redisURL], removing: ["RESULT_BACKEND"])
    }

    /// `celery <arguments> --json`, parsed: the reply of node `host`.
    static func celeryReply(_ arguments: [String], host: String, redisURL: String) async throws -> Any? {
        let output = try await WorkerObservabilityTests.celery(arguments + ["--json", "-d", host, "-t", "3"], redisURL: redisURL)
        let object = try? JSONSerialization.jsonObject(with: Data(output.stdout.utf8))
        if let replies = object as? [String: Any] { return replies[host] }
        if let replies = object as? [[String: Any]] { return replies.first { $0[host] != nil }?[host] }
        return nil
    }

    static func publish(
        _ task: String, id: String = CeleryMessage.newID(), kwargs: JSONObject = [:], queue: String, eta: Date? = nil,
        on connection: RedisConnection
    ) async throws -> String {
        let message = CeleryMessage.make(taskName: task, id: id, kwargs: kwargs, queue: queue, eta: eta)
        _ = try await connection.command([Array("LPUSH".utf8), Array(queue.utf8), message.raw])
        return id
    }

    static func waitForBinding(host: String, on connection: RedisConnection) async throws {
        let member = "\u{06}\u{16}\u{06}\u{16}\(host).celery.pidbox"
        let bound = try await eventually(timeout: .seconds(15)) {
            try await connection.command("SISMEMBER", "_kombu.binding.celery.pidbox", member).int == 1
        }
        try #require(bound, "the pidbox binding was not registered")
    }

    // MARK: - Revoke that sticks

    @Test("revoke while no worker runs: 100 sent, 50 revoked with oauthq revoke, two workers started: exactly 50 run, 50 end REVOKED unstarted")
    func revokeBeforeWorkers() async throws {
        try await BrokerScope.with("revoke") { scope in
            let url = TestEnvironment.redisURL
            var ids: [String] = []
            for _ in 0..<100 { ids.append(try await Self.publish("ping", queue: scope.queue, on: scope.connection)) }
            let revoked = Array(ids.prefix(50))
            let kept = Array(ids.dropFirst(50))

            let revoke = try await Self.oauthq(["revoke", "--key-prefix", scope.prefix, "--ttl", "600"] + revoked, redisURL: url)
            #expect(revoke.status == 0, "\(revoke.stderr)")
            #expect(revoke.stdout.contains("revoked 50 task(s)"), "\(revoke.stdout)")
            // As Celery 5.7's revoke: REVOKED is stored at once for tasks without a result.
            let early = try await resultStates(revoked, on: scope.connection)
            #expect(early.values.filter { $0.state == .revoked }.count == 50)
            // The set lives in Redis with its TTL.
            let score = try await scope.connection.command("ZSCORE", scope.prefix + ":revoked", revoked[0]).string.flatMap(Double.init)
            let expected = (Date().timeIntervalSince1970 + 600) * 1000
            #expect(score.map { abs($0 - expected) < 30_000 } == true, "score \(String(describing: score))")

            let workers = try (0..<2).map { index in
                try WorkerProcess(["-Q", scope.queue, "-c", "2", "--key-prefix", scope.prefix, "--result-expires", "600", "-n", "revoke\(index)@test"])
            }
            for worker in workers { try await worker.waitUntilReady() }
            var states: [String: CeleryResult] = [:]
            let settled = try await eventually(timeout: .seconds(30)) {
                states = try await resultStates(ids, on: scope.connection)
                let left = try await scope.length(scope.queue)
                return kept.allSatisfy { states[$0]?.state == .success } && left == 0
            }
            #expect(settled, "not every task settled:\n\(workers[0].log)")
            for worker in workers { worker.send(SIGTERM) }
            for worker in workers { #expect(await worker.waitForExit() == 0) }

            #expect(kept.filter { states[$0]?.state == .success }.count == 50)
            #expect(revoked.filter { states[$0]?.state == .revoked }.count == 50)
            // A ping that ran would have stored SUCCESS, which no later write replaces: REVOKED means never run.
            #expect(revoked.allSatisfy { states[$0]?.exception?.type == "TaskRevokedError" })
            let logs = workers.map(\.log).joined()
            let revokedLines = logs.split(separator: "\n").filter { $0.contains(" REVOKED ") }
            let successLines = logs.split(separator: "\n").filter { $0.contains(" SUCCESS ") }
            #expect(revokedLines.count == 50, "\(revokedLines.count) REVOKED lines")
            #expect(successLines.count == 50, "\(successLines.count) SUCCESS lines")
        }
    }

    // MARK: - inspect and control, as the CLI

    @Test("celery inspect active|reserved|scheduled|registered|stats|query_task and control revoke|terminate|cancel_consumer|add_consumer|shutdown")
    func inspectAndControl() async throws {
        let redis = try RedisTestServer(.init(durable: true))
        try redis.start()
        defer { redis.stop() }
        let url = "redis://127.0.0.1:\(redis.port)/3"
        let host = TestEnvironment.uniqueName("oauthq") + "@tools"
        let worker = try WorkerProcess(["-Q", "celery", "-c", "2", "-n", host, "--debug-tasks", "-E"], environment: ["REDIS_URL": url])
        try await worker.waitUntilReady()
        let connection = try await RedisConnection.connect(RedisConfiguration(url: url))
        try await Self.waitForBinding(host: host, on: connection)

        // An ETA task first: a slot parks it in the delayed set (free slots fetch it before the sleepers take them).
        let later = try await Self.publish("ping", queue: "celery", eta: Date().addingTimeInterval(120), on: connection)
        var scheduled: [[String: Any]] = []
        _ = try await eventually(timeout: .seconds(10)) {
            scheduled = try await Self.celeryReply(["inspect", "scheduled"], host: host, redisURL: url) as? [[String: Any]] ?? []
            return !scheduled.isEmpty
        }
        #expect((scheduled.first?["request"] as? [String: Any])?["id"] as? String == later)
        #expect(scheduled.first?["eta"] is String)
        // Long sleepers (both are terminated below): a loaded machine may take minutes over the CLI calls.
        let sleeper = try await Self.publish("oauthq.sleep", kwargs: ["seconds": 600], queue: "celery", on: connection)
        let other = try await Self.publish("oauthq.sleep", kwargs: ["seconds": 600], queue: "celery", on: connection)

        var active: [[String: Any]] = []
        let running = try await eventually(timeout: .seconds(15)) {
            active = try await Self.celeryReply(["inspect", "active"], host: host, redisURL: url) as? [[String: Any]] ?? []
            return active.count == 2
        }
        #expect(running, "inspect active did not list two tasks:\n\(worker.log)")
        #expect(Set(active.compactMap { $0["id"] as? String }) == [sleeper, other])
        #expect(active.allSatisfy { $0["name"] as? String == "oauthq.sleep" && $0["acknowledged"] as? Bool == true && $0["hostname"] as? String == host })

        let reserved = try await Self.celeryReply(["inspect", "reserved"], host: host, redisURL: url) as? [Any]
        #expect(reserved != nil && reserved!.isEmpty)
        let registered = try await Self.celeryReply(["inspect", "registered"], host: host, redisURL: url) as? [String]
        #expect(registered.map { Set($0).isSuperset(of: ["ping", "cleartokens", "createapplication", "oauthq.sleep"]) } == true)
        let stats = try await Self.celeryReply(["inspect", "stats"], host: host, redisURL: url) as? [String: Any]
        #expect((stats?["pool"] as? [String: Any])?["max-concurrency"] as? Int == 2)
        #expect(stats?["pid"] as? Int == Int(worker.pid))
        #expect(stats?["rusage"] is [String: Any] && stats?["broker"] is [String: Any])
        let queryOutput = try await WorkerObservabilityTests.celery(["inspect", "query_task", sleeper, later, "--json", "-d", host, "-t", "3"], redisURL: url)
        let query = (try? JSONSerialization.jsonObject(with: Data(queryOutput.stdout.utf8)) as? [String: Any])?[host] as? [String: Any]
        #expect(query != nil, "\(queryOutput.stdout) \(queryOutput.stderr)")
        #expect((query?[sleeper] as? [Any])?.first as? String == "active")
        #expect((query?[later] as? [Any])?.first as? String == "scheduled")
        let unknown = try await Self.celeryReply(["inspect", "no_such_command"], host: host, redisURL: url)
        _ = unknown  // The CLI refuses unknown commands itself; the reply shape is asserted in CeleryToolsShapeTests.

        // revoke (not running: REVOKED stored at once, and the ETA task never runs) and terminate (running).
        let revoke = try await Self.celeryReply(["control", "revoke", later], host: host, redisURL: url) as? [String: Any]
        #expect(revoke?["ok"] as? String == "tasks {'\(later)'} flagged as revoked")
        let terminate = try await Self.celeryReply(["control", "terminate", "SIGTERM", sleeper], host: host, redisURL: url) as? [String: Any]
        #expect(terminate?["ok"] as? String == "terminate: \(sleeper)", "\(String(describing: terminate))\n\(worker.log)")
        var sleeperResult: CeleryResult?
        #expect(try await eventually(timeout: .seconds(10)) {
            sleeperResult = try await Self.result(sleeper, on: connection)
            return sleeperResult?.state == .revoked
        }, "terminate did not end the task REVOKED:\n\(worker.log)")
        #expect(sleeperResult?.exception?.messages == ["terminated"])
        #expect(try await Self.result(later, on: connection)?.state == .revoked)
        let revokedList = try await Self.celeryReply(["inspect", "revoked"], host: host, redisURL: url) as? [String]
        #expect(Set(revokedList ?? []).isSuperset(of: [later, sleeper]))

        // cancel_consumer: nothing is taken; add_consumer: taken again.
        let cancel = try await Self.celeryReply(["control", "cancel_consumer", "celery"], host: host, redisURL: url) as? [String: Any]
        #expect(cancel?["ok"] as? String == "no longer consuming from celery")
        let queues = try await Self.celeryReply(["inspect", "active_queues"], host: host, redisURL: url) as? [Any]
        #expect(queues?.isEmpty == true)
        let waiting = try await Self.publish("ping", queue: "celery", on: connection)
        // A fetch after that publish, seen through a queue the worker does consume: a ping there runs, the message
        // in the cancelled queue stays.
        let probeQueue = TestEnvironment.uniqueName("probe")
        let probeConsumer = try await Self.celeryReply(["control", "add_consumer", probeQueue], host: host, redisURL: url) as? [String: Any]
        #expect(probeConsumer?["ok"] as? String == "add consumer \(probeQueue)")
        let probe = try await Self.publish("ping", queue: probeQueue, on: connection)
        #expect(try await eventually(timeout: .seconds(10)) { try await Self.result(probe, on: connection)?.state == .success })
        #expect(try await connection.command("LLEN", "celery").int == 1, "a message was taken from a cancelled queue")
        #expect(try await Self.result(waiting, on: connection) == nil)
        let add = try await Self.celeryReply(["control", "add_consumer", "celery"], host: host, redisURL: url) as? [String: Any]
        #expect(add?["ok"] as? String == "add consumer celery")
        #expect(try await eventually(timeout: .seconds(10)) { try await Self.result(waiting, on: connection)?.state == .success })

        // The other sleeper too (a terminate for it and an unknown id: only the running one is named).
        let second = try await Self.celeryReply(["control", "terminate", "SIGTERM", other, "no-such-id"], host: host, redisURL: url) as? [String: Any]
        #expect(second?["ok"] as? String == "terminate: \(other)")
        #expect(try await eventually(timeout: .seconds(10)) { try await Self.result(other, on: connection)?.state == .revoked })

        // shutdown: a warm shutdown.
        _ = try await WorkerObservabilityTests.celery(["control", "shutdown", "-d", host, "-t", "1"], redisURL: url)
        #expect(try await eventually(timeout: .seconds(40)) { !worker.isRunning }, "shutdown did not stop the worker:\n\(worker.log)")
        #expect(await worker.waitForExit() == 0)
        #expect(worker.log.contains("remote control: shutdown requested"))
        await connection.close()
    }

    static func result(_ id: String, on connection: RedisConnection) async throws -> CeleryResult? {
        guard let bytes = try await connection.command("GET", CeleryResult.key(taskID: id)).bytes else { return nil }
        return try CeleryResult.decode(bytes).get()
    }

    // MARK: - Pause and resume

    @Test("oauthq queues pause then resume under a stream of tasks: nothing is taken while paused, nothing is lost; status shows it")
    func pauseResume() async throws {
        try await BrokerScope.with("pause") { scope in
            let url = TestEnvironment.redisURL
            let workers = try (0..<2).map { index in
                try WorkerProcess(["-Q", scope.queue, "-c", "2", "--key-prefix", scope.prefix, "--result-expires", "600", "-n", "pause\(index)@test"])
            }
            for worker in workers { try await worker.waitUntilReady() }
            let producer = try await RedisConnection.connect(RedisConfiguration(url: url))
            let published = PublishedIDs()
            let stream = Task {
                while !Task.isCancelled {
                    if let id = try? await Self.publish("ping", queue: scope.queue, on: producer) { published.append(id) }
                    try? await Task.sleep(for: .milliseconds(10))  // the stream's pace: about 100 tasks a second
                }
            }
            // Under way: the workers have run part of the stream before the pause.
            let flowing = try await eventually { try await resultStates(published.all, on: scope.connection).count >= 20 }
            #expect(flowing, "the workers ran nothing of the stream")
            let pause = try await Self.oauthq(["queues", "pause", scope.queue, "--key-prefix", scope.prefix], redisURL: url)
            #expect(pause.status == 0, "\(pause.stderr)")
            #expect(pause.stdout.contains("2 of 2 live worker(s) confirmed"), "\(pause.stdout)")
            let status = try await Self.oauthq(["status", "--key-prefix", scope.prefix, "-Q", scope.queue], redisURL: url)
            #expect(status.stdout.contains("paused (oauthq queues resume QUEUE): \(scope.queue)"), "\(status.stdout)")

            // Wait until 20 more messages were published meanwhile (the stream goes on), then none may be taken.
            let before = try await scope.length(scope.queue)
            var after = before
            let grew = try await eventually(timeout: .seconds(30)) {
                after = try await scope.length(scope.queue)
                return after >= before + 20
            }
            #expect(grew, "the stream stopped? \(before) → \(after)")
            let processing = try await Self.processingTotal(prefix: scope.prefix, on: scope.connection)
            #expect(processing == 0, "\(processing) message(s) taken while paused")

            let resume = try await Self.oauthq(["queues", "resume", scope.queue, "--key-prefix", scope.prefix], redisURL: url)
            #expect(resume.status == 0, "\(resume.stderr)")
            // The stream goes on after the resume (20 more tasks), and those must run too.
            let resumedAt = published.all.count
            #expect(try await eventually { published.all.count >= resumedAt + 20 })
            stream.cancel()
            await stream.value
            let ids = published.all
            var states: [String: CeleryResult] = [:]
            let done = try await eventually(timeout: .seconds(30)) {
                states = try await resultStates(ids, on: scope.connection)
                return states.count == ids.count
            }
            #expect(done, "\(ids.count - states.count) of \(ids.count) tasks without a result")
            #expect(states.values.allSatisfy { $0.state == .success })
            await producer.close()
            for worker in workers { worker.send(SIGTERM) }
            for worker in workers { #expect(await worker.waitForExit() == 0) }
        }
    }

    static func processingTotal(prefix: String, on connection: RedisConnection) async throws -> Int {
        let keys = try await connection.command("KEYS", prefix + ":processing:*").array?.compactMap(\.string) ?? []
        var total = 0
        for key in keys { total += Int(try await connection.command("LLEN", key).int ?? 0) }
        return total
    }

    // MARK: - Health

    @Test("/healthz: 200 while Redis is up and the heartbeat fresh, 503 with a reason when Redis goes away")
    func health() async throws {
        let redis = try RedisTestServer(.init(durable: true))
        try redis.start()
        defer { redis.stop() }
        let port = try TestEnvironment.freeLoopbackPort()
        let worker = try WorkerProcess(
            ["-Q", "celery", "-c", "1", "--metrics-port", String(port)], environment: ["REDIS_URL": "redis://127.0.0.1:\(redis.port)/0"]
        )
        try await worker.waitUntilReady()
        #expect(try await eventually(timeout: .seconds(5)) { try HTTPProbe.request(port: port, path: "/healthz").status == 200 })
        #expect(try HTTPProbe.request(port: port, path: "/healthz").text.contains("ok"))
        redis.kill()
        var response: HTTPProbe.Response?
        #expect(try await eventually(timeout: .seconds(15)) {
            response = try HTTPProbe.request(port: port, path: "/healthz")
            return response?.status == 503
        })
        #expect(response.map { $0.text.contains("Redis") } == true, "\(String(describing: response?.text))")
        try redis.start()
        #expect(try await eventually(timeout: .seconds(20)) { try HTTPProbe.request(port: port, path: "/healthz").status == 200 })
        worker.send(SIGTERM)
        #expect(await worker.waitForExit() == 0)
    }
}

/// Flower 2.2 (pinned in requirements-dev.txt) watching an oauthq worker, queried through its HTTP API.
@Suite("Flower sees oauthq workers and their tasks", .enabled(if: TestEnvironment.shouldRunRedis && PythonReference.shouldRun))
struct FlowerTests {
    static func get(_ path: String, port: Int) async throws -> Any? {
        let output = try await ProcessRunner.output(
            RepositoryPaths.venvPython, [RepositoryPaths.root.appendingPathComponent("harness/interop/flower_get.py").path, "http://127.0.0.1:\(port)\(path)"]
        )
        guard output.status == 0 else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(output.stdout.utf8))
    }

    @Test("Flower lists the worker with stats, registered tasks and active queues, and every task with its final state")
    func flower() async throws {
        let redis = try RedisTestServer(.init(durable: true))
        try redis.start()
        defer { redis.stop() }
        let url = "redis://127.0.0.1:\(redis.port)/4"
        let host = TestEnvironment.uniqueName("oauthq") + "@flower"
        // Without -E: Flower turns task events on with the enable_events control command.
        let worker = try WorkerProcess(["-Q", "celery", "-c", "2", "-n", host, "--debug-tasks"], environment: ["REDIS_URL": url])
        try await worker.waitUntilReady()

        let port = try TestEnvironment.freeLoopbackPort()
        let flower = Process()
        flower.executableURL = RepositoryPaths.venvPython
        flower.arguments = ["-m", "celery", "-A", "celery_app", "flower", "--port=\(port)", "--address=127.0.0.1"]
        var environment = ProcessInfo.processInfo.environment
        environment["REDIS_URL"] = url
        environment["RESULT_BACKEND"] = nil
        environment["FLOWER_UNAUTHENTICATED_API"] = "true"
        environment["PYTHONPATH"] = RepositoryPaths.root.appendingPathComponent("harness/interop").path
        flower.environment = environment
        flower.standardOutput = FileHandle.nullDevice
        flower.standardError = FileHandle.nullDevice
        try flower.run()
        defer { if flower.isRunning { kill(flower.processIdentifier, SIGKILL); flower.waitUntilExit() } }

        let enabled = try await eventually(timeout: .seconds(20)) { worker.log.contains("remote control: task events enabled") }
        #expect(enabled, "Flower did not enable task events:\n\(worker.log)")

        let connection = try await RedisConnection.connect(RedisConfiguration(url: url))
        var expected: [String: (name: String, state: String)] = [:]
        for _ in 0..<3 { expected[try await CeleryToolsTests.publish("ping", queue: "celery", on: connection)] = ("ping", "SUCCESS") }
        expected[try await CeleryToolsTests.publish("oauthq.sleep", kwargs: ["seconds": 0.2], queue: "celery", on: connection)] = ("oauthq.sleep", "SUCCESS")
        expected[try await CeleryToolsTests.publish("oauthq.sleep", kwargs: ["seconds": "x"], queue: "celery", on: connection)] = ("oauthq.sleep", "FAILURE")
        // Revoked before it is sent: never started, shown REVOKED.
        let revokedID = CeleryMessage.newID()
        let revoke = try await CeleryToolsTests.oauthq(["revoke", revokedID], redisURL: url)
        #expect(revoke.status == 0, "\(revoke.stderr)")
        expected[try await CeleryToolsTests.publish("ping", id: revokedID, queue: "celery", on: connection)] = ("ping", "REVOKED")
        await connection.close()

        var tasks: [String: [String: Any]] = [:]
        let seen = try await eventually(timeout: .seconds(20)) {
            tasks = try await Self.get("/api/tasks", port: port) as? [String: [String: Any]] ?? [:]
            return expected.allSatisfy { id, want in tasks[id]?["state"] as? String == want.state }
        }
        #expect(seen, "Flower's tasks: \(tasks.mapValues { $0["state"] ?? "?" })\n\(worker.log)")
        for (id, want) in expected {
            #expect(tasks[id]?["name"] as? String == want.name)
            #expect(tasks[id]?["worker"] as? String == host)
            if want.state == "SUCCESS" { #expect(tasks[id]?["runtime"] is Double, "no runtime for \(id)") }
        }

        let workers = try await Self.get("/api/workers?refresh=1", port: port) as? [String: [String: Any]]
        let ours = try #require(workers?[host], "Flower does not list \(host): \(String(describing: workers?.keys))")
        #expect(((ours["stats"] as? [String: Any])?["pool"] as? [String: Any])?["max-concurrency"] as? Int == 2)
        #expect(Set(ours["registered"] as? [String] ?? []).isSuperset(of: ["ping", "cleartokens", "createapplication"]))
        #expect((ours["active_queues"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["celery"])

        worker.send(SIGTERM)
        #expect(await worker.waitForExit() == 0)
    }
}

/// The ids a producer task has published so far, readable while it goes on.
final class PublishedIDs: Sendable {
    private let ids = Mutex<[String]>([])

    func append(_ id: String) { ids.withLock { $0.append(id) } }
    var all: [String] { ids.withLock { $0 } }
}
