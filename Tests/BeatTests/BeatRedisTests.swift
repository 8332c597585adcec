import Beat
import Foundation
import CeleryProtocol
import CeleryRedis
import Redis
import TestSupport
import Testing

func connect() async throws -> RedisConnection {
    try await RedisConnection.connect(RedisConfiguration(url: TestEnvironment.redisURL))
}

/// Deletes the test's keys (never FLUSHDB: the server is shared).
func deleteKeys(_ connection: RedisConnection, matching pattern: String) async throws {
    let keys = try await connection.command("KEYS", pattern).array ?? []
    for key in keys {
        if let bytes = key.bytes { _ = try await connection.command([Array("DEL".utf8), bytes]) }
    }
}

@Suite(.enabled(if: TestEnvironment.shouldRunRedis))
struct BeatRedisTests {
    @Test("split brain: two senders of one tick enqueue one message; last moves forward only")
    func tickGuard() async throws {
        let prefix = TestEnvironment.uniqueName("beattest")
        let queue = prefix + "_q"
        let redis = try await connect()
        let sender = BeatTickSender(keys: BeatKeys(prefix: prefix))
        let entry = BeatEntry(name: "e", task: "ping", schedule: .interval(seconds: 1), queue: queue)
        async let first = sender.send(entry, scheduled: 1000, lockToken: nil, on: try await connect())
        async let second = sender.send(entry, scheduled: 1000, lockToken: nil, on: try await connect())
        let outcomes = [try await first.0, try await second.0]
        #expect(outcomes.filter { $0 == .sent }.count == 1)
        #expect(outcomes.filter { $0 == .alreadySent }.count == 1)
        #expect(try await redis.command("LLEN", queue).int == 1)
        #expect(try await redis.command("GET", "\(prefix):beat:last:e").int == 1000)
        #expect(try await redis.command("TTL", "\(prefix):beat:tick:e:1000").int.map { $0 > 86_000 } == true)
        #expect(try await redis.command("SISMEMBER", "_kombu.binding.\(queue)", TaskPublisher.bindingMember(queue: queue)).int == 1)
        // An older tick (late sender) is sent, but does not move `last` back.
        #expect(try await sender.send(entry, scheduled: 999, lockToken: nil, on: redis).0 == .sent)
        #expect(try await redis.command("GET", "\(prefix):beat:last:e").int == 1000)
        try await deleteKeys(redis, matching: prefix + "*")
        try await deleteKeys(redis, matching: "_kombu.binding.\(prefix)*")
    }

    @Test("fencing: a sender whose token does not hold the lock writes nothing")
    func fencing() async throws {
        let prefix = TestEnvironment.uniqueName("beattest")
        let queue = prefix + "_q"
        let redis = try await connect()
        let keys = BeatKeys(prefix: prefix)
        let sender = BeatTickSender(keys: keys)
        let entry = BeatEntry(name: "e", task: "ping", schedule: .interval(seconds: 1), queue: queue)
        #expect(try await sender.send(entry, scheduled: 5, lockToken: "nobody", on: redis).0 == .notLeader)
        let lock = BeatLock(key: keys.lock, token: "me", ttlMilliseconds: 120_000)  // long: a loaded machine must not let it lapse mid-test
        #expect(try await lock.acquire(on: redis))
        #expect(try await sender.send(entry, scheduled: 5, lockToken: "other", on: redis).0 == .notLeader)
        #expect(try await redis.command("EXISTS", keys.last(entry: "e"), keys.tick(entry: "e", scheduled: 5), queue).int == 0)
        #expect(try await sender.send(entry, scheduled: 5, lockToken: "me", on: redis).0 == .sent)
        #expect(try await redis.command("LLEN", queue).int == 1)
        try await deleteKeys(redis, matching: prefix + "*")
        try await deleteKeys(redis, matching: "_kombu.binding.\(prefix)*")
    }

    @Test("lock: one holder; renew and release check the token; expiry frees it")
    func lock() async throws {
        let prefix = TestEnvironment.uniqueName("beattest")
        let redis = try await connect()
        let key = BeatKeys(prefix: prefix).lock
        let a = BeatLock(key: key, token: "a", ttlMilliseconds: 30_000)
        let b = BeatLock(key: key, token: "b", ttlMilliseconds: 30_000)
        #expect(try await a.acquire(on: redis))
        #expect(try await !b.acquire(on: redis))
        #expect(try await a.acquire(on: redis))  // re-acquire by the holder renews
        #expect(try await a.renew(on: redis))
        #expect(try await !b.renew(on: redis))
        try await b.release(on: redis)
        #expect(try await redis.command("GET", key).string == "a")
        try await a.release(on: redis)
        #expect(try await redis.command("EXISTS", key).int == 0)
        // Expiry: a short-lived lock that is not renewed frees itself, and a late renewal must not resurrect it.
        let short = BeatLock(key: key, token: "s", ttlMilliseconds: 200)
        #expect(try await short.acquire(on: redis))
        var expired = false
        let deadline = ContinuousClock.now + .seconds(10)
        while !expired && ContinuousClock.now < deadline {
            expired = try await redis.command("EXISTS", key).int == 0
            if !expired { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(expired, "the 200 ms lock did not expire")
        #expect(try await !short.renew(on: redis))
        #expect(try await b.acquire(on: redis))
        try await short.release(on: redis)
        #expect(try await redis.command("GET", key).string == "b")
        try await b.release(on: redis)
        #expect(try await redis.command("EXISTS", key).int == 0)
    }
}
