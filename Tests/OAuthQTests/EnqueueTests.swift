import Foundation
import CeleryProtocol
import Redis
import TestSupport
import Testing

/// Runs the built `oauthq` with the shared Redis as broker.
func oauthq(_ arguments: [String]) async throws -> ProcessOutput {
    try await ProcessRunner.output(
        RepositoryPaths.oauthqBinary, arguments, environment: ["REDIS_URL": TestEnvironment.redisURL],
        removing: ["RESULT_BACKEND"])
}

func redisConnection() async throws -> RedisConnection {
    try await RedisConnection.connect(RedisConfiguration(url: TestEnvironment.redisURL))
}

/// The four priority lists of `queue`.
func priorityLists(_ queue: String) -> [String] {
    CeleryQueue.prioritySteps.map { CeleryQueue.listKey(queue: queue, priority: $0) }
}

/// Every message in `queue`'s priority lists, oldest first per list.
func messages(in queue: String, redis: RedisConnection) async throws -> [CeleryMessage] {
    var out: [CeleryMessage] = []
    for key in priorityLists(queue) {
        for item in (try await redis.command("LRANGE", key, "0", "-1").array ?? []).reversed() {
            out.append(try CeleryMessage.decode(try #require(item.bytes)).get())
        }
    }
    return out
}

func cleanUp(_ queue: String, redis: RedisConnection) async throws {
    for key in priorityLists(queue) + ["_kombu.binding." + queue] { _ = try await redis.command("DEL", key) }
}

/// Runs `harness/interop/enqueue_consume.py QUEUE COUNT` (a Celery 5.7 worker) and returns what each task got.
func consumeWithCelery(queue: String, count: Int, timeout: Int = 90) async throws -> (ProcessOutput, [JSONObject]) {
    let script = RepositoryPaths.root.appendingPathComponent("harness/interop/enqueue_consume.py").path
    let output = try await ProcessRunner.output(
        RepositoryPaths.venvPython, [script, queue, String(count), String(timeout)],
        environment: ["REDIS_URL": TestEnvironment.redisURL])
    let records = try output.stdout.split(separator: "\n").map { line in
        try #require(try JSONValue.parse(String(line)).get().objectValue)
    }
    return (output, records)
}

/// An object's members as a dictionary (the Python side prints keys sorted).
func unordered(_ value: JSONValue?) -> [String: JSONValue]? {
    guard let object = value?.objectValue else { return nil }
    return Dictionary(object.keys.map { ($0, object[$0]!) }, uniquingKeysWith: { $1 })
}

// Serialized: these tests start Celery workers and beat processes; one at a time keeps the 2-core machine usable.
@Suite(.enabled(if: TestEnvironment.shouldRunRedis), .serialized)
struct EnqueueTests {
    @Test("enqueue writes kombu's message to the priority list and mirrors the binding")
    func writesMessage() async throws {
        let queue = TestEnvironment.uniqueName("enq")
        let redis = try await redisConnection()
        let before = Date()
        let output = try await oauthq([
            "enqueue", "createapplication", "confidential", "authorization-code", "--name", "svc",
            "--redirect-uris", "https://a.example/cb", "--user", "7", "--no-hash-client-secret", "--client-secret", "s3",
            "--skip-authorization", "--algorithm", "RS256", "--queue", queue, "--priority", "5", "--countdown", "30",
            "--expires", "120", "--task-id", "fixed-id-1",
        ])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stdout == "fixed-id-1\n")
        #expect(try await redis.command("LLEN", CeleryQueue.listKey(queue: queue, priority: 5)).int == 1)
        let message = try #require(try await messages(in: queue, redis: redis).first)
        #expect(message.taskName == "createapplication")
        #expect(message.id == "fixed-id-1")
        #expect(message.args == ["confidential", "authorization-code"])
        #expect(message.kwargs == [
            "user": "7", "redirect_uris": "https://a.example/cb", "client_secret": "s3", "hash_client_secret": false,
            "name": "svc", "skip_authorization": true, "algorithm": "RS256",
        ])
        #expect(message.priority == 5)
        #expect(message.routingKey == queue)
        #expect(message.deliveryTag?.isEmpty == false)
        #expect(message.properties["expiration"] == "120000")
        let eta = try #require(message.eta).timeIntervalSince(before)
        #expect(eta >= 29 && eta <= 40)
        #expect(message.headers["celery_beat_task"] == nil)
        let member = queue + "\u{06}\u{16}\u{06}\u{16}" + queue
        #expect(try await redis.command("SISMEMBER", "_kombu.binding." + queue, member).int == 1)
        try await cleanUp(queue, redis: redis)
    }

    @Test("a short command exits 0 every time: no crash at exit (OpenSSL's exit handler raced a connection thread)")
    func noCrashAtExit() async throws {
        for _ in 0..<25 {
            let status = try await oauthq(["status", "--key-prefix", TestEnvironment.uniqueName("exitcheck")])
            #expect(status.status == 0, "\(status.stderr.prefix(300))")
            guard status.status == 0 else { return }
        }
    }

    @Test("enqueue clearcimdapplications sends batch_size as DOT's --batch-size, and no kwargs without it")
    func writesClearCIMDApplications() async throws {
        let queue = TestEnvironment.uniqueName("enqcimd")
        let redis = try await redisConnection()
        let withSize = try await oauthq(["enqueue", "clearcimdapplications", "--batch-size", "250", "--queue", queue, "--task-id", "cimd-1"])
        #expect(withSize.status == 0, "\(withSize.stderr)")
        let plain = try await oauthq(["enqueue", "clearcimdapplications", "--queue", queue, "--task-id", "cimd-2"])
        #expect(plain.status == 0, "\(plain.stderr)")
        let sent = try await messages(in: queue, redis: redis)
        let byID = Dictionary(uniqueKeysWithValues: sent.map { ($0.id, $0) })
        #expect(byID["cimd-1"]?.taskName == "clearcimdapplications")
        #expect(byID["cimd-1"]?.kwargs == ["batch_size": 250])
        #expect(byID["cimd-2"]?.kwargs == [:])
        try await cleanUp(queue, redis: redis)
    }

    @Test(
        "invalid arguments: exit 2, a clear message, nothing enqueued",
        arguments: [
            (["createapplication", "confidential", "authorization_code"], "grant type \"authorization_code\" is not a valid choice"),
            (["createapplication", "secret", "password"], "client type \"secret\" is not a valid choice"),
            (["createapplication", "public", "password", "--algorithm", "ES256"], "--algorithm \"ES256\" is not a valid choice"),
            (["createapplication", "public", "password", "--user", "alice"], "--user \"alice\": expected the auth_user id"),
            (["ping", "--priority", "10"], "--priority \"10\": expected an integer from 0 to 9"),
            (["ping", "--priority", "-1"], "--priority \"-1\""),
            (["ping", "--countdown", "-5"], "--countdown \"-5\": expected a non-negative number of seconds"),
            (["ping", "--countdown", "soon"], "--countdown \"soon\""),
            (["ping", "--eta", "tomorrow"], "--eta \"tomorrow\": expected an ISO-8601 time"),
            (["ping", "--countdown", "5", "--eta", "2030-01-01T00:00:00Z"], "either --countdown or --eta"),
            (["ping", "--expires", "-1"], "--expires \"-1\": seconds must be a non-negative number"),
            (["ping", "--expires", "later"], "--expires \"later\": expected seconds or an ISO-8601 time"),
            (["ping", "--task-id", "a b"], "--task-id \"a b\""),
            (["ping", "--wait", "--timeout", "0"], "--timeout \"0\""),
            (["cleartokens", "REFRESH_TOKEN_EXPIRE_SECONDS=-1"], "REFRESH_TOKEN_EXPIRE_SECONDS must not be negative"),
            (["cleartokens", "BATCH=1"], "unknown setting \"BATCH\""),
            (["cleartokens", "--batch-size", "0"], "CLEAR_EXPIRED_TOKENS_BATCH_SIZE must be a positive integer"),
            (["cleartokens", "--refresh-token-reuse-protection", "maybe"], "REFRESH_TOKEN_REUSE_PROTECTION must be true or false"),
            (["clearcimdapplications", "--batch-size", "0"], "--batch-size \"0\": expected a whole number of at least 1"),
            (["clearcimdapplications", "--batch-size", "many"], "--batch-size \"many\""),
        ])
    func invalidArguments(arguments: [String], message: String) async throws {
        let queue = TestEnvironment.uniqueName("enqbad")
        let redis = try await redisConnection()
        let output = try await oauthq(["enqueue"] + arguments + ["--queue", queue])
        #expect(output.status == 2, "\(output.stdout) \(output.stderr)")
        #expect(output.stderr.contains("oauthq: error: "))
        #expect(output.stderr.contains(message), "\(output.stderr)")
        #expect(output.stdout.isEmpty)
        for key in priorityLists(queue) + ["_kombu.binding." + queue] {
            #expect(try await redis.command("EXISTS", key).int == 0)
        }
    }

    @Test("a Celery 5.7 worker runs what oauthq enqueued, with the right id, args and kwargs", .timeLimit(.minutes(3)))
    func pythonWorkerConsumes() async throws {
        try #require(PythonReference.shouldRun || TestEnvironment.isCI, "no .venv: run scripts/python-env.sh")
        let queue = TestEnvironment.uniqueName("enqpy")
        let redis = try await redisConnection()
        let sent = [
            try await oauthq([
                "enqueue", "cleartokens", "REFRESH_TOKEN_EXPIRE_SECONDS=3600", "--batch-size", "500",
                "--refresh-token-reuse-protection", "true", "--queue", queue, "--task-id", queue + "-clear",
            ]),
            try await oauthq([
                "enqueue", "createapplication", "public", "client-credentials", "--name", "svc", "--client-id", "abc",
                "--queue", queue, "--priority", "9", "--expires", "600",
            ]),
            try await oauthq(["enqueue", "ping", "--queue", queue, "--task-name", "interop.fail"]),
        ]
        for output in sent { #expect(output.status == 0, "\(output.stderr)") }
        let ids = sent.map { $0.stdout.trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(ids[0] == queue + "-clear")

        let (run, records) = try await consumeWithCelery(queue: queue, count: 3)
        #expect(run.status == 0, "\(run.stderr)")
        let byID = Dictionary(uniqueKeysWithValues: records.map { ($0["id"]?.stringValue ?? "", $0) })
        let clear = try #require(byID[ids[0]], "\(records)")
        #expect(clear["task"] == "cleartokens")
        #expect(clear["args"] == [])
        #expect(unordered(clear["kwargs"]) == [
            "REFRESH_TOKEN_EXPIRE_SECONDS": 3600, "REFRESH_TOKEN_REUSE_PROTECTION": true,
            "CLEAR_EXPIRED_TOKENS_BATCH_SIZE": 500,
        ])
        #expect(clear["delivery_info"]?["routing_key"] == .string(queue))
        let create = try #require(byID[ids[1]], "\(records)")
        #expect(create["task"] == "createapplication")
        #expect(create["args"] == ["public", "client-credentials"])
        #expect(unordered(create["kwargs"]) == ["client_id": "abc", "name": "svc"])
        #expect(create["expires"]?.stringValue?.isEmpty == false)
        let alias = try #require(byID[ids[2]], "\(records)")
        #expect(alias["task"] == "interop.fail")
        // Priority 9 is served last on Redis (0 first): createapplication ran after the other two.
        #expect(records.last?["id"]?.stringValue == ids[1])
        try await cleanUp(queue, redis: redis)
    }

    @Test("--wait subscribes first and reports the Python worker's result; result reads it back", .timeLimit(.minutes(3)))
    func waitForResult() async throws {
        try #require(PythonReference.shouldRun || TestEnvironment.isCI, "no .venv: run scripts/python-env.sh")
        let queue = TestEnvironment.uniqueName("enqwait")
        let redis = try await redisConnection()
        async let worker = consumeWithCelery(queue: queue, count: 2)
        async let success = oauthq(["enqueue", "ping", "--queue", queue, "--wait", "--timeout", "90", "--json"])
        async let failure = oauthq(["enqueue", "ping", "--task-name", "interop.fail", "--queue", queue, "--wait", "--timeout", "90"])
        let (ok, failed, (run, _)) = try await (success, failure, worker)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(ok.status == 0, "\(ok.stderr)")
        let json = try #require(try JSONValue.parse(ok.stdout).get().objectValue)
        #expect(json["status"] == "SUCCESS")
        #expect(json["result"] == "pong")
        let id = try #require(json["task_id"]?.stringValue)
        #expect(ok.stderr.contains("sent ping \(id) to queue \(queue)"))
        #expect(failed.status == 3, "\(failed.stdout) \(failed.stderr)")
        #expect(failed.stdout.contains(": FAILURE at "))
        #expect(failed.stdout.contains("ValueError: bad grant authorization-code"))
        #expect(failed.stdout.contains("Traceback"))

        let read = try await oauthq(["result", id])
        #expect(read.status == 0)
        #expect(read.stdout.hasPrefix("task \(id): SUCCESS at "))
        #expect(read.stdout.contains("\"pong\""))
        try await cleanUp(queue, redis: redis)
    }

    @Test("result: PENDING for an unknown id (exit 5), stored states, and --wait woken by a publish")
    func resultCommand() async throws {
        let redis = try await redisConnection()
        let unknown = TestEnvironment.uniqueName("noid")
        let pending = try await oauthq(["result", unknown, "--json"])
        #expect(pending.status == 5)
        let record = try #require(try JSONValue.parse(pending.stdout).get().objectValue)
        #expect(record["status"] == "PENDING")
        #expect(record["task_id"] == .string(unknown))
        let human = try await oauthq(["result", unknown])
        #expect(human.stdout.hasPrefix("task \(unknown): PENDING"))

        let failedID = TestEnvironment.uniqueName("failed")
        let failed = CeleryResult.failure(
            taskID: failedID, exception: CeleryResult.failure(type: "ValueError", messages: ["bad"]), traceback: "Traceback …")
        _ = try await redis.command([Array("SET".utf8), Array(CeleryResult.key(taskID: failedID).utf8), failed.encoded(), Array("EX".utf8), Array("60".utf8)])
        let failedRead = try await oauthq(["result", failedID])
        #expect(failedRead.status == 3)
        #expect(failedRead.stdout.contains("ValueError: bad"))

        let revokedID = TestEnvironment.uniqueName("revoked")
        let revoked = CeleryResult(taskID: revokedID, state: .revoked, result: CeleryResult.revokedExpired, dateDone: Date())
        _ = try await redis.command([Array("SET".utf8), Array(CeleryResult.key(taskID: revokedID).utf8), revoked.encoded(), Array("EX".utf8), Array("60".utf8)])
        let revokedRead = try await oauthq(["result", revokedID])
        #expect(revokedRead.status == 4)
        #expect(revokedRead.stdout.contains("celery.exceptions.TaskRevokedError: expired"))

        let waitedID = TestEnvironment.uniqueName("waited")
        async let waiting = oauthq(["result", waitedID, "--wait", "--timeout", "30", "--json"])
        let publisher = Task {
            // Publish once the waiting child has subscribed to the result's channel (PUBSUB NUMSUB), not
            // after a guessed delay: a publish before the subscription would be lost.
            let channel = CeleryResult.key(taskID: waitedID)
            let deadline = ContinuousClock.now + .seconds(25)
            while try await redis.command("PUBSUB", "NUMSUB", channel).array?.last?.int ?? 0 < 1 {
                guard ContinuousClock.now < deadline else { throw CancellationError() }
                try await Task.sleep(for: .milliseconds(20))
            }
            let done = CeleryResult.success(taskID: waitedID, result: ["deleted": 3])
            _ = try await redis.command([Array("PUBLISH".utf8), Array(CeleryResult.key(taskID: waitedID).utf8), done.encoded()])
        }
        let waited = try await waiting
        try await publisher.value
        #expect(waited.status == 0, "\(waited.stderr)")
        #expect(try JSONValue.parse(waited.stdout).get()["result"] == ["deleted": 3])

        let timedOut = try await oauthq(["result", TestEnvironment.uniqueName("never"), "--wait", "--timeout", "1"])
        #expect(timedOut.status == 5)
        for id in [failedID, revokedID] { _ = try await redis.command("DEL", CeleryResult.key(taskID: id)) }
    }
}
