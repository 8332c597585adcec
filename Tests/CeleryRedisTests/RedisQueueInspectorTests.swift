import Foundation
import CeleryProtocol
import CeleryRedis
import Redis
import Testing
import TestSupport

@Suite("status and dead letters", .enabled(if: TestEnvironment.shouldRunRedis))
struct RedisQueueInspectorTests {
    @Test("status counts pending per priority, delayed, dead letters and workers; requeue and purge move exactly")
    func statusAndDeadLetters() async throws {
        let redis = try await RedisConnection.connect(RedisConfiguration(url: TestEnvironment.redisURL))
        let prefix = TestEnvironment.uniqueName("insp")
        let queue = TestEnvironment.uniqueName("q")
        let keys = RedisBroker.Keys(prefix: prefix)
        let inspector = RedisQueueInspector(keys: keys)
        func push(priority: Int) async throws {
            let message = CeleryMessage.make(taskName: "ping", queue: queue, priority: priority)
            _ = try await redis.command([Array("LPUSH".utf8), Array(CeleryQueue.listKey(queue: queue, priority: priority).utf8), message.raw])
        }
        try await push(priority: 0)
        try await push(priority: 0)
        try await push(priority: 5)
        try await push(priority: 9)
        _ = try await redis.command("ZADD", keys.delayed, "1", "x")
        // A live worker with one message in flight, and a dead one.
        _ = try await redis.command("SADD", keys.workers, "w1", "w2")
        _ = try await redis.command("HSET", keys.worker("w1"), "name", "a@h", "pid", "42", "host", "h", "queues", queue,
                                    "concurrency", "2", "done", "7", "failed", "1", "started", "s", "last_heartbeat", "t")
        _ = try await redis.command("SET", keys.heartbeat("w1"), "1", "PX", "60000")
        _ = try await redis.command("LPUSH", keys.processing("w1", slot: 1), "m")
        _ = try await redis.command("HSET", keys.worker("w2"), "name", "b@h", "concurrency", "1")
        // Two dead letters: one whose message decodes (requeueable), one that does not.
        let poison = CeleryMessage.make(taskName: "nope", queue: queue, priority: 3)
        let good = DeadLetter(reason: "unknown task", time: Date(), queue: queue, taskID: poison.id, taskName: "nope",
                              worker: "a@h", original: poison.raw)
        let bad = DeadLetter(reason: "invalid JSON", time: Date(), queue: queue, taskID: nil, taskName: nil,
                             worker: "a@h", original: [0xff, 0x00, 0x7b])
        _ = try await redis.command([Array("RPUSH".utf8), Array(keys.dead.utf8), good.encoded(), bad.encoded()])

        let status = try await inspector.status(queues: [], on: redis)
        let row = try #require(status.queues.first { $0.name == queue })
        #expect(row.pending == ["0": 2, "3": 1, "6": 0, "9": 1])
        #expect(row.total == 4)
        #expect(status.delayed == 1)
        #expect(status.dead == 2)
        #expect(status.workers.map(\.alive) == [true, false])
        #expect(status.workers[0].inFlight == 1 && status.workers[0].done == 7 && status.workers[0].pid == 42)

        let listed = try await inspector.deadLetters(limit: 10, on: redis)
        #expect(listed.compactMap(\.letter).map(\.reason) == ["unknown task", "invalid JSON"])

        #expect(try await inspector.requeue(taskIDs: ["not-there"], on: redis).requeued == 0)
        let moved = try await inspector.requeue(taskIDs: nil, on: redis)
        #expect(moved.requeued == 1 && moved.undecodable == 1)
        #expect(try await redis.command("LLEN", CeleryQueue.listKey(queue: queue, priority: 3)).int == 2)
        #expect(try await redis.command("LLEN", keys.dead).int == 1)
        #expect(try await inspector.purge(on: redis) == 1)
        #expect(try await redis.command("EXISTS", keys.dead).int == 0)

        var cleanup = [keys.workers, keys.delayed, keys.worker("w1"), keys.worker("w2"), keys.heartbeat("w1"),
                       keys.processing("w1", slot: 1)]
        cleanup += [0, 3, 6, 9].map { CeleryQueue.listKey(queue: queue, priority: $0) }
        _ = try await redis.command((["DEL"] + cleanup).map { Array($0.utf8) })
    }
}
