import Foundation
import CeleryProtocol
import CeleryRedis
import Redis
import Testing
import TestSupport

/// Issue 11 (8): a recovered message returns to the list it was fetched from, whatever its routing says, and a key
/// of the wrong type never loses it.
@Suite("recovery returns a message to its list", .enabled(if: TestEnvironment.shouldRunRedis))
struct RecoveryRuleTests {
    @Test("a dead worker's message goes back to the list it was fetched from, counted as one worker loss")
    func returnsToSource() async throws {
        try await BrokerScope.with("source", extraQueues: ["routed_elsewhere"]) { scope in
            // Routed to "routed_elsewhere" by its delivery_info, but sitting in (and fetched from) the scope's queue.
            let message = CeleryMessage.make(taskName: "ping", queue: "routed_elsewhere")
            try await scope.pushRaw(message.raw)
            let dead = scope.broker(workerID: "dead-\(UUID().uuidString)", heartbeatTTL: .milliseconds(200))
            try await dead.heartbeat(RedisWorkerInfo(name: "dead@test", queues: [scope.queue], concurrency: 1), on: scope.connection)
            let fetched = try await dead.cycle(
                slot: 0, settling: [], fetching: 1, listKeys: CeleryQueue.fetchOrder(queues: [scope.queue]), broker: scope.connection
            )
            #expect(fetched.count == 1)
            // What the worker does when it starts a message whose routing names another list.
            try await dead.recordSource(try #require(fetched.first), on: scope.connection)
            // Its heartbeat expires: another worker reaps it.
            #expect(try await eventually { try await scope.connection.command("EXISTS", dead.keys.heartbeat(dead.workerID)).int == 0 })
            let reaper = scope.broker()
            #expect(try await reaper.reapDeadWorkers(on: scope.connection, workerName: "reaper@test") == 1)
            let back = try await scope.list(scope.queue)
            #expect(back.count == 1)
            let returned = try CeleryMessage.decode(try #require(back.first)).get()
            #expect(returned.id == message.id)
            #expect(returned.workerLostCount == 1)
            #expect(try await scope.length("routed_elsewhere") == 0)
            #expect(try await scope.connection.command("EXISTS", dead.keys.source(dead.workerID, slot: 0)).int == 0)
        }
    }

    @Test("a queue list turned into a string: the message is dead-lettered, not lost")
    func wrongTypeTarget() async throws {
        try await BrokerScope.with("wrongtype") { scope in
            let message = CeleryMessage.make(taskName: "ping", queue: scope.queue)
            try await scope.pushRaw(message.raw)
            let dead = scope.broker(workerID: "dead-\(UUID().uuidString)", heartbeatTTL: .milliseconds(200))
            try await dead.heartbeat(RedisWorkerInfo(name: "dead@test", queues: [scope.queue], concurrency: 1), on: scope.connection)
            _ = try await dead.cycle(slot: 0, settling: [], fetching: 1, listKeys: [scope.queue], broker: scope.connection)
            _ = try await scope.connection.command("SET", scope.queue, "not a list any more")
            #expect(try await eventually { try await scope.connection.command("EXISTS", dead.keys.heartbeat(dead.workerID)).int == 0 })
            #expect(try await scope.broker().reapDeadWorkers(on: scope.connection, workerName: "reaper@test") == 1)
            let letters = try await scope.list(dead.keys.dead).compactMap { try? DeadLetter.decode($0).get() }
            #expect(letters.count == 1)
            #expect(letters.first?.taskID == message.id)
            #expect(letters.first?.reason.contains("is not a list") == true)
            #expect(try await scope.length(dead.processingKey(slot: 0)) == 0)
        }
    }

    @Test("poison-pill charging: with a running mark only the marked message is charged; without one, all are")
    func blame() async throws {
        try await BrokerScope.with("blame") { scope in
            for marked in [true, false] {
                let suspect = CeleryMessage.make(taskName: "ping", queue: scope.queue)
                let bystander = CeleryMessage.make(taskName: "ping", queue: scope.queue)
                let dead = scope.broker(workerID: "dead-\(UUID().uuidString)", concurrency: 2, heartbeatTTL: .milliseconds(200))
                try await dead.heartbeat(RedisWorkerInfo(name: "dead@test", queues: [scope.queue], concurrency: 2), on: scope.connection)
                try await scope.pushRaw(suspect.raw)
                _ = try await dead.cycle(slot: 0, settling: [], fetching: 1, listKeys: [scope.queue], broker: scope.connection)
                try await scope.pushRaw(bystander.raw)
                _ = try await dead.cycle(slot: 1, settling: [], fetching: 1, listKeys: [scope.queue], broker: scope.connection)
                if marked { try await dead.markRunning(suspect.raw, on: scope.connection) }
                #expect(try await eventually { try await scope.connection.command("EXISTS", dead.keys.heartbeat(dead.workerID)).int == 0 })
                #expect(try await scope.broker().reapDeadWorkers(on: scope.connection, workerName: "reaper@test") == 2)
                var losses: [String: Int] = [:]
                for raw in try await scope.list(scope.queue) {
                    let message = try CeleryMessage.decode(raw).get()
                    losses[message.id] = message.workerLostCount
                    #expect(message.isRedelivered)
                }
                #expect(losses[suspect.id] == 1)
                #expect(losses[bystander.id] == (marked ? 0 : 1))
                #expect(try await scope.connection.command("EXISTS", dead.keys.running(dead.workerID)).int == 0)
                _ = try await scope.connection.command("DEL", scope.queue)
            }
        }
    }
}
