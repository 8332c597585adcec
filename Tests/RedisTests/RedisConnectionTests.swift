import Foundation
import Redis
import TestSupport
import Testing

/// Connects to the shared server with optional overrides.
func sharedConnection(
    database: Int? = nil,
    commandTimeout: Duration = .seconds(30)
) async throws -> RedisConnection {
    var configuration = try RedisConfiguration(url: TestEnvironment.redisURL, commandTimeout: commandTimeout)
    if let database { configuration.database = database }
    return try await RedisConnection.connect(configuration)
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite("RedisConnection against the shared server", .enabled(if: TestEnvironment.shouldRunRedis))
struct RedisConnectionTests {
    @Test("PING, SET/GET, DEL round-trip")
    func basics() async throws {
        let redis = try await sharedConnection()
        let key = TestEnvironment.uniqueName("rt")
        #expect(try await redis.command("PING") == .status("PONG"))
        #expect(try await redis.command("SET", key, "value") == .status("OK"))
        #expect(try await redis.command("GET", key) == .bulk(bytes("value")))
        #expect(try await redis.command("INCRBY", key + ":n", "5") == .integer(5))
        #expect(try await redis.command("DEL", key, key + ":n") == .integer(2))
        #expect(await redis.isAlive)
    }

    @Test("nil replies: GET of a missing key, BLPOP timing out, empty array")
    func nilReplies() async throws {
        let redis = try await sharedConnection()
        let key = TestEnvironment.uniqueName("rt")
        #expect(try await redis.command("GET", key) == .null)
        #expect(try await redis.command("BLPOP", key, "0.1") == .null)
        #expect(try await redis.command("LRANGE", key, "0", "-1") == .array([]))
        #expect(try await redis.command(["SET", key, ""].map(bytes)) == .status("OK"))
        #expect(try await redis.command("GET", key) == .bulk([]))
        _ = try await redis.command("DEL", key)
    }

    @Test("binary values with NUL bytes round-trip in keys and values")
    func binarySafe() async throws {
        let redis = try await sharedConnection()
        let key = bytes(TestEnvironment.uniqueName("rt")) + [0, 255, 0]
        let value: [UInt8] = Array(0...255) + [0, 0, 0x0D, 0x0A, 0x24, 0x2A]
        #expect(try await redis.command([bytes("SET"), key, value]) == .status("OK"))
        #expect(try await redis.command([bytes("GET"), key]) == .bulk(value))
        #expect(try await redis.command([bytes("STRLEN"), key]) == .integer(Int64(value.count)))
        // The key without its NUL suffix is a different key.
        #expect(try await redis.command([bytes("EXISTS"), Array(key.dropLast(3))]) == .integer(0))
        _ = try await redis.command([bytes("DEL"), key])
    }

    @Test("unicode keys and values")
    func unicode() async throws {
        let redis = try await sharedConnection()
        let key = TestEnvironment.uniqueName("rt") + ":ключ:🔑"
        let value = "zoë ✓ 日本語 🚀"
        _ = try await redis.command("SET", key, value)
        let reply = try await redis.command("GET", key)
        #expect(reply.string == value)
        #expect(reply == .bulk(bytes(value)))
        #expect(try await redis.command("STRLEN", key) == .integer(Int64(value.utf8.count)))
        _ = try await redis.command("DEL", key)
    }

    @Test("a 10 MB value")
    func largeValue() async throws {
        let redis = try await sharedConnection()
        let key = bytes(TestEnvironment.uniqueName("rt"))
        var value = [UInt8](repeating: 0, count: 10 * 1024 * 1024)
        for index in stride(from: 0, to: value.count, by: 4093) { value[index] = UInt8(truncatingIfNeeded: index) }
        #expect(try await redis.command([bytes("SET"), key, value]) == .status("OK"))
        let reply = try await redis.command([bytes("GET"), key])
        #expect(reply.bytes?.count == value.count)
        #expect(reply == .bulk(value))
        _ = try await redis.command([bytes("DEL"), key])
    }

    @Test("a 1,000-command pipeline in one round trip")
    func pipelineThousand() async throws {
        let redis = try await sharedConnection()
        let key = bytes(TestEnvironment.uniqueName("rt"))
        let commands = (0..<1_000).map { [bytes("RPUSH"), key, bytes("item-\($0)")] }
        let replies = try await redis.pipeline(commands)
        #expect(replies == (1...1_000).map { RedisValue.integer(Int64($0)) })
        let items = try await redis.command([bytes("LRANGE"), key, bytes("0"), bytes("-1")])
        #expect(items.array?.count == 1_000)
        #expect(items.array?.last == .bulk(bytes("item-999")))
        #expect(try await redis.pipeline([]) == [])
        _ = try await redis.command([bytes("DEL"), key])
    }

    @Test("error replies inside a pipeline stay values and the connection stays usable")
    func pipelineErrors() async throws {
        let redis = try await sharedConnection()
        let key = TestEnvironment.uniqueName("rt")
        let replies = try await redis.pipeline([
            ["SET", key, "text"].map(bytes),
            ["INCR", key].map(bytes),
            ["GET", key].map(bytes),
        ])
        #expect(replies.count == 3)
        #expect(replies[0] == .status("OK"))
        #expect(replies[1].errorMessage?.hasPrefix("ERR") == true)
        #expect(replies[2] == .bulk(bytes("text")))
        #expect(await redis.isAlive)
        await #expect(throws: RedisError.self) { try await redis.pipeline([[]]) }
        _ = try await redis.command("DEL", key)
    }

    @Test("MULTI/EXEC gives a nested array with an error inside")
    func nestedArrays() async throws {
        let redis = try await sharedConnection()
        let key = TestEnvironment.uniqueName("rt")
        let replies = try await redis.pipeline([
            ["MULTI"].map(bytes),
            ["SET", key, "abc"].map(bytes),
            ["INCR", key].map(bytes),
            ["RPUSH", key + ":l", "a", "b"].map(bytes),
            ["LRANGE", key + ":l", "0", "-1"].map(bytes),
            ["EXEC"].map(bytes),
        ])
        #expect(Array(replies[0...4]) == [.status("OK"), .status("QUEUED"), .status("QUEUED"), .status("QUEUED"), .status("QUEUED")])
        let exec = try #require(replies[5].array)
        #expect(exec.count == 4)
        #expect(exec[0] == .status("OK"))
        #expect(exec[1].errorMessage?.hasPrefix("ERR value is not an integer") == true)
        #expect(exec[2] == .integer(2))
        #expect(exec[3] == .array([.bulk(bytes("a")), .bulk(bytes("b"))]))
        _ = try await redis.command("DEL", key, key + ":l")
    }

    @Test("a top-level error reply throws .server with its prefix; the connection survives")
    func serverError() async throws {
        let redis = try await sharedConnection()
        let key = TestEnvironment.uniqueName("rt")
        _ = try await redis.command("RPUSH", key, "x")
        let error = try await #require(throws: RedisError.self) { try await redis.command("GET", key) }
        #expect(error.code == .server)
        #expect(error.serverPrefix == "WRONGTYPE")
        #expect(await redis.isAlive)
        #expect(try await redis.command("PING") == .status("PONG"))
        await #expect(throws: RedisError.self) { try await redis.command([]) }
        _ = try await redis.command("DEL", key)
    }

    @Test("error descriptions never contain command arguments")
    func redactedServerErrors() async throws {
        let redis = try await sharedConnection()
        let secret = "tok-\(TestEnvironment.uniqueName("secret"))"
        // Redis echoes arguments of unknown commands: "unknown command 'X', with args beginning with: 'tok-…'".
        let unknown = try await #require(throws: RedisError.self) {
            try await redis.command("NOSUCHCOMMAND", secret, "more")
        }
        #expect(unknown.code == .server)
        #expect(unknown.serverPrefix == "ERR")
        #expect(!unknown.localizedDescriptionForTests.contains(secret))
        #expect(!unknown.localizedDescriptionForTests.contains("tok-"))
        let arity = try await #require(throws: RedisError.self) { try await redis.command("SET", secret) }
        #expect(!arity.localizedDescriptionForTests.contains(secret))
        let script = try await #require(throws: RedisError.self) {
            try await redis.command("EVAL", "return redis.call('GET', ARGV[1], '\(secret)')", "0", secret)
        }
        #expect(!script.localizedDescriptionForTests.contains(secret))
    }

    @Test("SELECT of another database on connect")
    func selectDatabase() async throws {
        let db5 = try await sharedConnection(database: 5)
        let db0 = try await sharedConnection(database: 0)
        let key = TestEnvironment.uniqueName("rt")
        _ = try await db5.command("SET", key, "in-5")
        #expect(try await db5.command("GET", key) == .bulk(bytes("in-5")))
        #expect(try await db0.command("GET", key) == .null)
        let info = try #require(try await db5.command("CLIENT", "INFO").string)
        #expect(info.contains(" db=5 "))
        _ = try await db5.command("DEL", key)

        let tooHigh = try RedisConfiguration(endpoint: db0.configuration.endpoint, database: 100_000)
        let error = try await #require(throws: RedisError.self) { try await RedisConnection.connect(tooHigh) }
        #expect(error.code == .server)
        #expect(error.message.contains("SELECT"))
    }

    @Test("blocking commands work when the command timeout exceeds their own")
    func blockingCommand() async throws {
        let redis = try await sharedConnection(commandTimeout: .seconds(3))
        let source = TestEnvironment.uniqueName("rt")
        let destination = source + ":processing"
        let clock = ContinuousClock()
        let start = clock.now
        #expect(try await redis.command("BLMOVE", source, destination, "LEFT", "RIGHT", "1") == .null)
        #expect(clock.now - start >= .milliseconds(900))
        _ = try await redis.command("LPUSH", source, "job")
        #expect(try await redis.command("BLMOVE", source, destination, "LEFT", "RIGHT", "1") == .bulk(bytes("job")))
        #expect(await redis.isAlive)
        _ = try await redis.command("DEL", source, destination)
    }

    @Test("blocking calls on three connections are blocked at the same time (own threads, not the pool)")
    func blockingInParallel() async throws {
        let connections = [try await sharedConnection(), try await sharedConnection(), try await sharedConnection()]
        let key = TestEnvironment.uniqueName("rt")
        let names = connections.indices.map { "\(key)-\($0)" }
        for (connection, name) in zip(connections, names) { _ = try await connection.command("CLIENT", "SETNAME", name) }
        let observer = try await sharedConnection()
        try await withThrowingTaskGroup(of: RedisValue.self) { group in
            for connection in connections {
                group.addTask { try await connection.command("BLPOP", key, "10") }
            }
            // The server sees all three blocked in BLPOP at once: they cannot share one thread.
            var blocked = 0
            for _ in 0..<200 where blocked < 3 {
                let clients = try await observer.command("CLIENT", "LIST").string ?? ""
                blocked = clients.split(separator: "\n").filter { line in
                    names.contains { line.contains("name=\($0) ") } && line.contains("cmd=blpop")
                }.count
                if blocked < 3 { try await Task.sleep(for: .milliseconds(25)) }
            }
            #expect(blocked == 3, "the three BLPOPs were not blocked at the same time")
            _ = try await observer.command("RPUSH", key, "a", "b", "c")
            for try await reply in group { #expect(reply.array?.count == 2) }
        }
        _ = try await observer.command("DEL", key)
    }

    @Test("a command timeout throws .timeout and kills the connection")
    func commandTimeout() async throws {
        let redis = try await sharedConnection(commandTimeout: .milliseconds(300))
        let key = TestEnvironment.uniqueName("rt")
        let clock = ContinuousClock()
        let start = clock.now
        let error = try await #require(throws: RedisError.self) { try await redis.command("BLPOP", key, "30") }
        #expect(error.code == .timeout)
        #expect(clock.now - start < .seconds(25), "the 300 ms socket timeout, not BLPOP's own 30 s, ended the call")
        #expect(!error.description.contains(key))
        #expect(await !redis.isAlive)
        let later = try await #require(throws: RedisError.self) { try await redis.command("PING") }
        #expect(later.code == .connectionClosed)
        #expect(later.message.contains("timeout"))
    }

    @Test("CLIENT KILL while waiting in BLPOP: eof, dead connection, later calls throw at once")
    func killedMidCommand() async throws {
        let victim = try await sharedConnection()
        let admin = try await sharedConnection()
        let key = TestEnvironment.uniqueName("rt")
        let id = try #require(try await victim.command("CLIENT", "ID").int)
        let blocked = Task { try await victim.command("BLPOP", key, "10") }
        // Wait until the server shows the victim blocked in BLPOP.
        var isBlocked = false
        for _ in 0..<200 where !isBlocked {
            let list = try await admin.command("CLIENT", "LIST", "ID", String(id)).string ?? ""
            isBlocked = list.contains("cmd=blpop")
            if !isBlocked { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(isBlocked)
        #expect(try await admin.command("CLIENT", "KILL", "ID", String(id)) == .integer(1))
        let error = try await #require(throws: RedisError.self) { try await blocked.value }
        #expect([.eof, .io].contains(error.code))
        #expect(error.isTransient)
        #expect(await !victim.isAlive)
        // .connectionClosed (not .io/.eof) shows the call failed without touching the network.
        let later = try await #require(throws: RedisError.self) { try await victim.command("PING") }
        #expect(later.code == .connectionClosed)
        await #expect(throws: RedisError.self) { try await victim.pipeline([["PING"].map(bytes)]) }
        await #expect(throws: RedisError.self) { try await victim.nextReply(timeout: .milliseconds(10)) }
    }

    @Test("close() frees the connection; later calls throw connectionClosed")
    func closeConnection() async throws {
        let redis = try await sharedConnection()
        await redis.close()
        await redis.close()
        #expect(await !redis.isAlive)
        let error = try await #require(throws: RedisError.self) { try await redis.command("PING") }
        #expect(error.code == .connectionClosed)
    }

    @Test("releasing the last reference frees the context: the server sees the client go")
    func deinitFreesContext() async throws {
        let admin = try await sharedConnection()
        var dropped: RedisConnection? = try await sharedConnection()
        let id = try #require(try await dropped?.command("CLIENT", "ID").int)
        #expect(try await admin.command("CLIENT", "LIST", "ID", String(id)).string?.isEmpty == false)
        dropped = nil
        var gone = false
        for _ in 0..<200 where !gone {
            gone = try await admin.command("CLIENT", "LIST", "ID", String(id)).string?.isEmpty == true
            if !gone { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(gone, "the connection's socket is still open after deinit")
        #expect(dropped == nil)
    }

    @Test("server down: connecting to a port nothing listens on throws a clear io error")
    func serverDown() async throws {
        let port = try TestEnvironment.freeLoopbackPort()
        let configuration = try RedisConfiguration(url: "redis://:hunter2@127.0.0.1:\(port)/0")
        let error = try await #require(throws: RedisError.self) { try await RedisConnection.connect(configuration) }
        #expect(error.code == .io)
        #expect(error.isTransient)
        #expect(error.message.contains("127.0.0.1:\(port)"))
        #expect(error.message.contains("refused"))
        #expect(!error.localizedDescriptionForTests.contains("hunter2"))

        let missingSocket = try RedisConfiguration(url: "unix:///nonexistent/oauthq-\(port).sock")
        let unixError = try await #require(throws: RedisError.self) { try await RedisConnection.connect(missingSocket) }
        #expect(unixError.code == .io)
    }

    @Test("connect(retrying:) gives up after maxAttempts with backoff in between")
    func retryingGivesUp() async throws {
        let port = try TestEnvironment.freeLoopbackPort()
        let configuration = try RedisConfiguration(url: "redis://127.0.0.1:\(port)")
        let policy = RedisReconnectPolicy(initialDelay: .milliseconds(50), maxDelay: .seconds(1), jitter: 0, maxAttempts: 3)
        let clock = ContinuousClock()
        let start = clock.now
        let error = try await #require(throws: RedisError.self) {
            try await RedisConnection.connect(configuration, retrying: policy)
        }
        let elapsed = clock.now - start
        #expect(error.code == .io)
        #expect(elapsed >= .milliseconds(150))  // 50 + 100 ms of sleeping
        #expect(elapsed < .seconds(60))  // bounded: gives up rather than retrying forever
    }

    @Test("connect(retrying:) does not retry a permanent error")
    func retryingPermanent() async throws {
        var configuration = try RedisConfiguration(url: TestEnvironment.redisURL)
        configuration.database = 100_000  // SELECT fails: a server error, not transient
        // Generous timeouts, so a loaded machine cannot turn the first attempt into a (transient) timeout.
        configuration.connectTimeout = .seconds(60)
        configuration.commandTimeout = .seconds(60)
        let clock = ContinuousClock()
        let start = clock.now
        let error = try await #require(throws: RedisError.self) {
            try await RedisConnection.connect(configuration, retrying: RedisReconnectPolicy(initialDelay: .seconds(20), maxAttempts: 5))
        }
        #expect(error.code == .server)
        #expect(clock.now - start < .seconds(9), "a retry would have slept at least 10 s first (20 s, jitter 0.5)")
    }

    @Test("connect(retrying:) stops when its task is cancelled")
    func retryingCancelled() async throws {
        let port = try TestEnvironment.freeLoopbackPort()
        let configuration = try RedisConfiguration(url: "redis://127.0.0.1:\(port)")
        let task = Task {
            try await RedisConnection.connect(configuration, retrying: RedisReconnectPolicy(initialDelay: .seconds(5)))
        }
        try await Task.sleep(for: .milliseconds(100))
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }

    @Test("pub/sub: nextReply returns nil on timeout, keeps the connection, then delivers messages")
    func pubSub() async throws {
        let subscriber = try await sharedConnection()
        let publisher = try await sharedConnection()
        let channel = TestEnvironment.uniqueName("rt-chan")
        let confirmation = try await subscriber.command("SUBSCRIBE", channel)
        #expect(confirmation == .array([.bulk(bytes("subscribe")), .bulk(bytes(channel)), .integer(1)]))

        let clock = ContinuousClock()
        let start = clock.now
        #expect(try await subscriber.nextReply(timeout: .milliseconds(200)) == nil)
        #expect(clock.now - start >= .milliseconds(190))
        #expect(await subscriber.isAlive)

        let payload: [UInt8] = bytes("hello ✓") + [0, 1, 2]
        #expect(try await publisher.command([bytes("PUBLISH"), bytes(channel), payload]) == .integer(1))
        #expect(try await publisher.command("PUBLISH", channel, "second") == .integer(1))
        let first = try await subscriber.nextReply(timeout: .seconds(5))
        #expect(first == .array([.bulk(bytes("message")), .bulk(bytes(channel)), .bulk(payload)]))
        let second = try await subscriber.nextReply(timeout: .seconds(5))
        #expect(second?.array?.last == .bulk(bytes("second")))
        #expect(try await subscriber.nextReply(timeout: .milliseconds(50)) == nil)

        // A message published while the subscriber waits arrives before the timeout.
        async let delivered = subscriber.nextReply(timeout: .seconds(5))
        try await Task.sleep(for: .milliseconds(100))
        _ = try await publisher.command("PUBLISH", channel, "late")
        #expect(try await delivered?.array?.last == .bulk(bytes("late")))  // non-nil: before the 5 s timeout
    }
}
