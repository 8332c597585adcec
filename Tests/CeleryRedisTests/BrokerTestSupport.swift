import Foundation
import CeleryProtocol
import CeleryRedis
import Redis
import Testing
import TestSupport

/// One test's isolated corner of the shared Redis: a unique key prefix and unique queue names, and a
/// cleanup that deletes exactly the keys the test made.
struct BrokerScope {
    let prefix: String
    let queue: String
    let connection: RedisConnection

    /// Runs `body` with a fresh scope and cleans up afterwards, whether it throws or not.
    static func with(_ name: String, extraQueues: [String] = [], _ body: (BrokerScope) async throws -> Void) async throws {
        let scope = try await make(name)
        do {
            try await body(scope)
        } catch {
            await scope.cleanup(extraQueues: extraQueues)
            throw error
        }
        await scope.cleanup(extraQueues: extraQueues)
    }

    static func make(_ name: String) async throws -> BrokerScope {
        let connection = try await RedisConnection.connect(RedisConfiguration(url: TestEnvironment.redisURL))
        return BrokerScope(
            prefix: TestEnvironment.uniqueName("oauthq_test_\(name)"),
            queue: TestEnvironment.uniqueName("q_\(name)"),
            connection: connection
        )
    }

    func broker(workerID: String = RedisBroker.makeWorkerID(), concurrency: Int = 1, heartbeatTTL: Duration = .seconds(5)) -> RedisBroker {
        RedisBroker(keyPrefix: prefix, workerID: workerID, concurrency: concurrency, resultExpires: 600, heartbeatTTL: heartbeatTTL)
    }

    /// A Celery message, LPUSHed to its list as kombu does.
    @discardableResult
    func publish(
        _ task: String = "ping", id: String = CeleryMessage.newID(), args: [JSONValue] = [], kwargs: JSONObject = [:],
        queue: String? = nil, priority: Int = 0, eta: Date? = nil, expires: Date? = nil,
        timeLimit: CeleryMessage.TimeLimit = .none, ignoreResult: Bool? = nil
    ) async throws -> CeleryMessage {
        let queueName = queue ?? self.queue
        let message = CeleryMessage.make(
            taskName: task, id: id, args: args, kwargs: kwargs, queue: queueName, priority: priority, eta: eta,
            expires: expires, timeLimit: timeLimit, ignoreResult: ignoreResult
        )
        _ = try await connection.command([Array("LPUSH".utf8), Array(CeleryQueue.listKey(queue: queueName, priority: priority).utf8), message.raw])
        return message
    }

    func pushRaw(_ bytes: [UInt8], list: String? = nil) async throws {
        _ = try await connection.command([Array("LPUSH".utf8), Array((list ?? queue).utf8), bytes])
    }

    func list(_ key: String) async throws -> [[UInt8]] {
        (try await connection.command("LRANGE", key, "0", "-1").array ?? []).compactMap(\.bytes)
    }

    func length(_ key: String) async throws -> Int {
        Int(try await connection.command("LLEN", key).int ?? 0)
    }

    func result(_ id: String) async throws -> CeleryResult? {
        guard let bytes = try await connection.command("GET", CeleryResult.key(taskID: id)).bytes else { return nil }
        return try CeleryResult.decode(bytes).get()
    }

    /// Expects the scope's queue to hold exactly one message: task `id`, marked redelivered, with no result
    /// stored (a running task a shutdown cancelled and returned).
    func expectReturnedUnrun(_ id: String) async throws {
        let back = try await list(queue)
        #expect(back.count == 1)
        let message = try CeleryMessage.decode(try #require(back.first)).get()
        #expect(message.id == id)
        #expect(message.isRedelivered)
        #expect(try await result(id) == nil)
    }

    func ttl(_ key: String) async throws -> Int {
        Int(try await connection.command("TTL", key).int ?? -3)
    }

    /// Deletes every key under the prefix and the test's queue lists (all steps, and `extraQueues`).
    /// Results expire on their own (the tests' brokers store them for 600 s).
    func cleanup(extraQueues: [String] = []) async {
        var keys: [String] = []
        var cursor = "0"
        repeat {
            guard let reply = try? await connection.command("SCAN", cursor, "MATCH", prefix + ":*", "COUNT", "1000"),
                let parts = reply.array, parts.count == 2, let next = parts[0].string
            else { break }
            cursor = next
            keys += (parts[1].array ?? []).compactMap(\.string)
        } while cursor != "0"
        for queue in [queue] + extraQueues {
            keys += CeleryQueue.fetchOrder(queues: [queue])
        }
        for key in keys {
            _ = try? await connection.command("DEL", key)
        }
        await connection.close()
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes.
func eventually(
    timeout: Duration = .seconds(30),
    _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}
