import Foundation
import CeleryProtocol
import CeleryRedis
import Redis
import Testing
import TestSupport

@Suite("RedisBroker against the shared Redis", .enabled(if: TestEnvironment.shouldRunRedis))
struct RedisBrokerTests {
    /// Settles one delivery as the worker does: through the `cycle` script, fetching nothing.
    static func settle(
        _ delivery: RedisDelivery,
        _ settlement: RedisSettlement,
        broker: RedisBroker,
        on connection: RedisConnection,
        backend: RedisConnection? = nil
    ) async throws {
        let fetched = try await broker.cycle(
            slot: delivery.slot, settling: [(delivery, settlement)], fetching: 0, listKeys: [], broker: connection, backend: backend
        )
        #expect(fetched.isEmpty)
    }

    @Test("fetch moves messages into the slot's processing list: priority step 0 first, FIFO within a list")
    func fetchOrder() async throws {
        try await BrokerScope.with("order") { scope in
            let broker = scope.broker()
            let low = try await scope.publish(priority: 9)
            let first = try await scope.publish(priority: 0)
            let mid = try await scope.publish(priority: 4)
            let second = try await scope.publish(priority: 1)

            var ids: [String] = []
            let order = CeleryQueue.fetchOrder(queues: [scope.queue])
            while let delivery = try await broker.fetch(slot: 0, listKeys: order, on: scope.connection) {
                #expect(try await scope.list(broker.processingKey(slot: 0)).first == delivery.raw)
                ids.append(try CeleryMessage.decode(delivery.raw).get().id)
                try await Self.settle(delivery, .ack(result: nil), broker: broker, on: scope.connection)
        }
        #expect(ids == [first.id, second.id, mid.id, low.id])
        #expect(try await scope.length(broker.processingKey(slot: 0)) == 0)
        }
    }

    @Test("queues are served round-robin when the caller rotates them")
    func fairness() async throws {
        let other = TestEnvironment.uniqueName("q_fair_other")
        try await BrokerScope.with("fair", extraQueues: [other]) { scope in
            let broker = scope.broker()
            for _ in 0..<3 {
                try await scope.publish(queue: scope.queue)
                try await scope.publish(queue: other)
        }
        var order = [scope.queue, other]
        var served: [String] = []
        while let delivery = try await broker.fetch(slot: 0, listKeys: CeleryQueue.fetchOrder(queues: order), on: scope.connection) {
            served.append(delivery.queue)
            order = CeleryQueue.rotated(order, lastUsed: delivery.queue)
            try await Self.settle(delivery, .ack(result: nil), broker: broker, on: scope.connection)
        }
        #expect(served == [scope.queue, other, scope.queue, other, scope.queue, other])
        }
    }

    @Test("blockingFetch waits for a push and times out on an empty list")
    func blocking() async throws {
        try await BrokerScope.with("block") { scope in
            let broker = scope.broker()
            let start = ContinuousClock.now
            #expect(try await broker.blockingFetch(slot: 0, listKey: scope.queue, timeout: .milliseconds(100), on: scope.connection) == nil)
            #expect(ContinuousClock.now - start >= .milliseconds(90))
            let message = try await scope.publish()
            let delivery = try #require(
                try await broker.blockingFetch(slot: 0, listKey: scope.queue, timeout: .milliseconds(100), on: scope.connection)
            )
            #expect(delivery.raw == message.raw)
            #expect(try await scope.list(broker.processingKey(slot: 0)) == [message.raw])
        }
    }

    @Test("ack writes the result with its TTL, publishes it, removes the message, and never overwrites SUCCESS")
    func ack() async throws {
        try await BrokerScope.with("ack") { scope in
            let message = try await scope.publish()
            let broker = scope.broker()

            let subscriber = try await RedisConnection.connect(RedisConfiguration(url: TestEnvironment.redisURL))
            _ = try await subscriber.command("SUBSCRIBE", CeleryResult.key(taskID: message.id))

            let delivery = try #require(try await broker.fetch(slot: 0, listKeys: [scope.queue], on: scope.connection))
            try await Self.settle(delivery, .ack(result: .success(taskID: message.id, result: "pong")), broker: broker, on: scope.connection)
            #expect(try await scope.length(broker.processingKey(slot: 0)) == 0)
            let stored = try #require(try await scope.result(message.id))
            #expect(stored.state == .success)
            #expect(stored.result == "pong")
            #expect(stored.taskID == message.id)
            #expect((1...600).contains(try await scope.ttl(CeleryResult.key(taskID: message.id))))
            let published = try #require(try await subscriber.nextReply(timeout: .seconds(2)))
            #expect(published.array?.last?.bytes.flatMap { try? CeleryResult.decode($0).get() }?.state == .success)
            await subscriber.close()

            // A duplicate delivery's FAILURE does not replace the SUCCESS.
            try await scope.pushRaw(message.raw)
            let again = try #require(try await broker.fetch(slot: 0, listKeys: [scope.queue], on: scope.connection))
            try await Self.settle(
                again,
                .ack(result: .failure(taskID: message.id, exception: CeleryResult.failure(type: "ValueError", messages: ["x"]))),
                broker: broker, on: scope.connection
            )
            #expect(try await scope.length(broker.processingKey(slot: 0)) == 0)
            #expect(try await scope.result(message.id)?.state == .success)
        }
    }

    @Test("a separate result backend gets the result; the broker loses the message")
    func separateBackend() async throws {
        try await BrokerScope.with("backend") { scope in
            let message = try await scope.publish()
            let broker = scope.broker()
            let backend = try await RedisConnection.connect(RedisConfiguration(url: TestEnvironment.redisURL))
            let delivery = try #require(try await broker.fetch(slot: 0, listKeys: [scope.queue], on: scope.connection))
            try await Self.settle(
                delivery, .ack(result: .success(taskID: message.id, result: 1)), broker: broker, on: scope.connection, backend: backend
            )
            #expect(try await scope.result(message.id)?.result == 1)
            #expect(try await scope.length(broker.processingKey(slot: 0)) == 0)
            await backend.close()
        }
    }

    @Test("delay parks the message in the delayed set; promoteDue returns it when due, served next")
    func delayAndPromote() async throws {
        try await BrokerScope.with("delay") { scope in
            let broker = scope.broker()
            let waiting = try await scope.publish()
            let later = try await scope.publish()
            let delivery = try #require(try await broker.fetch(slot: 0, listKeys: [scope.queue], on: scope.connection))
            #expect(delivery.raw == waiting.raw)
            let due = Date().addingTimeInterval(60)
            try await Self.settle(
                delivery, .delay(message: delivery.raw, listKey: scope.queue, until: due, result: nil), broker: broker, on: scope.connection
            )
            #expect(try await scope.length(broker.processingKey(slot: 0)) == 0)
            #expect(try await scope.connection.command("ZCARD", broker.keys.delayed).int == 1)
            #expect(try await broker.promoteDue(now: due.addingTimeInterval(-1), on: scope.connection) == 0)
            #expect(try await broker.promoteDue(now: due.addingTimeInterval(0.01), on: scope.connection) == 1)
            #expect(try await scope.connection.command("ZCARD", broker.keys.delayed).int == 0)
            // RPUSHed: it is served before the message that was already waiting.
            let next = try #require(try await broker.fetch(slot: 0, listKeys: [scope.queue], on: scope.connection))
            #expect(next.raw == waiting.raw)
            _ = later
        }
    }

    @Test("dead letters keep the reason, the time and the original bytes; a FAILURE is written")
    func deadLetter() async throws {
        try await BrokerScope.with("dead") { scope in
            let id = CeleryMessage.newID()
            let broker = scope.broker()
            let garbage: [UInt8] = [0xFF, 0x00, 0x7B]
            try await scope.pushRaw(garbage)
            let delivery = try #require(try await broker.fetch(slot: 0, listKeys: [scope.queue], on: scope.connection))
            let record = DeadLetter(reason: "not JSON", queue: scope.queue, taskID: id, worker: "w", original: delivery.raw)
            try await Self.settle(
                delivery,
                .deadLetter(record, result: .failure(taskID: id, exception: CeleryResult.failure(type: "ValueError", messages: ["bad"]))),
                broker: broker, on: scope.connection
            )
            let dead = try await scope.list(broker.keys.dead)
            #expect(dead.count == 1)
            let decoded = try DeadLetter.decode(dead[0]).get()
            #expect(decoded.original == garbage)
            #expect(decoded.reason == "not JSON")
            #expect(try await scope.result(id)?.state == .failure)
            #expect(try await scope.length(broker.processingKey(slot: 0)) == 0)
        }
    }

    @Test("the reaper returns a dead worker's in-flight messages, redelivered, and forgets the worker")
    func reaper() async throws {
        try await BrokerScope.with("reap") { scope in
            let dead = scope.broker(workerID: "dead-\(UUID().uuidString.prefix(8))", concurrency: 2, heartbeatTTL: .seconds(60))
            let live = scope.broker(workerID: "live-\(UUID().uuidString.prefix(8))")
            let info = RedisWorkerInfo(name: "dead@test", queues: [scope.queue], concurrency: 2)
            try await dead.heartbeat(info, on: scope.connection)
            let a = try await scope.publish(priority: 0)
            let b = try await scope.publish(priority: 5)
            _ = try #require(try await dead.fetch(slot: 0, listKeys: [scope.queue], on: scope.connection))
            _ = try #require(try await dead.fetch(slot: 1, listKeys: CeleryQueue.fetchOrder(queues: [scope.queue]), on: scope.connection))
            try await scope.pushRaw(Array("not json".utf8), list: dead.processingKey(slot: 1))

            // Alive: nothing happens.
            #expect(try await live.reapDeadWorkers(on: scope.connection, workerName: "live@test") == 0)
            // The heartbeat key expires (deleted here rather than waited for, so load cannot change the outcome).
            _ = try await scope.connection.command("DEL", dead.keys.heartbeat(dead.workerID))
            #expect(try await live.reapDeadWorkers(on: scope.connection, workerName: "live@test") == 3)  // 2 returned, 1 dead-lettered

            let step0 = try await scope.list(scope.queue)
            let step3 = try await scope.list(CeleryQueue.listKey(queue: scope.queue, priority: 5))
            let restoredA = try CeleryMessage.decode(try #require(step0.first)).get()
            let restoredB = try CeleryMessage.decode(try #require(step3.first)).get()
            #expect(restoredA.id == a.id && restoredA.isRedelivered)
            #expect(restoredB.id == b.id && restoredB.isRedelivered)
            let deadLetters = try await scope.list(live.keys.dead)
            #expect(deadLetters.count == 1)
            #expect(try DeadLetter.decode(deadLetters[0]).get().original == Array("not json".utf8))
            #expect(try await scope.connection.command("SISMEMBER", live.keys.workers, dead.workerID).int == 0)
            #expect(try await scope.connection.command("EXISTS", live.keys.worker(dead.workerID)).int == 0)
        }
    }

    @Test("recover(slot:) returns what a slot left in its own list")
    func recoverOwn() async throws {
        try await BrokerScope.with("recover") { scope in
            let broker = scope.broker()
            let message = try await scope.publish()
            _ = try #require(try await broker.fetch(slot: 0, listKeys: [scope.queue], on: scope.connection))
            #expect(try await broker.recover(slot: 0, on: scope.connection, workerName: "w") == 1)
            let back = try await scope.list(scope.queue)
            #expect(back.count == 1)
            #expect(try CeleryMessage.decode(back[0]).get().id == message.id)
            #expect(try await scope.length(broker.processingKey(slot: 0)) == 0)
        }
    }

    @Test("scripts survive SCRIPT FLUSH (NOSCRIPT falls back to EVAL)")
    func noScript() async throws {
        try await BrokerScope.with("noscript") { scope in
            let broker = scope.broker()
            try await scope.publish()
            let script = RedisScript(name: "probe", source: "return 'oauthq-probe-\(UUID().uuidString)'")
            #expect(try await script.run(on: scope.connection, keys: [], arguments: []).string?.hasPrefix("oauthq-probe-") == true)
            #expect(try await broker.fetch(slot: 0, listKeys: [scope.queue], on: scope.connection) != nil)
        }
    }
}
