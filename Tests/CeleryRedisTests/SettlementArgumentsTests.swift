import Foundation
import CeleryProtocol
@testable import CeleryRedis
import Testing

/// The settlement argument layout is defined once (``SettlementArguments``): Swift's encoding and the `cycle`
/// script's reading of it must agree.
@Suite("settlement argument layout")
struct SettlementArgumentsTests {
    @Test("encoded in Field order, six per settlement")
    func encoding() {
        let arguments = SettlementArguments(
            message: Array("m".utf8), result: Array("{}".utf8), ttl: 60, action: .delay, payload: Array("p".utf8), score: "123"
        )
        let encoded = arguments.encoded
        #expect(SettlementArguments.count == 6)
        #expect(encoded.count == SettlementArguments.count)
        #expect(encoded[SettlementArguments.Field.message.rawValue] == Array("m".utf8))
        #expect(encoded[SettlementArguments.Field.result.rawValue] == Array("{}".utf8))
        #expect(encoded[SettlementArguments.Field.ttl.rawValue] == Array("60".utf8))
        #expect(encoded[SettlementArguments.Field.action.rawValue] == Array("delay".utf8))
        #expect(encoded[SettlementArguments.Field.payload.rawValue] == Array("p".utf8))
        #expect(encoded[SettlementArguments.Field.score.rawValue] == Array("123".utf8))
    }

    @Test("the cycle script reads the fields through the generated locals, and has no settle sibling")
    func luaSource() {
        let locals = SettlementArguments.luaLocals(base: "a")
        #expect(locals == "local message, result, ttl, action, payload, score = ARGV[a + 0], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]")
        let cycle = BrokerScripts.cycle.source
        #expect(cycle.contains(locals))
        #expect(cycle.contains("local a = 3 + \(SettlementArguments.count) * (i - 1)"))
        // The SUCCESS guard is written once and only called in cycle.
        #expect(cycle.components(separatedBy: "local function store_unless_succeeded").count == 2)
        #expect(cycle.components(separatedBy: "stored['status'] == 'SUCCESS'").count == 2)
        #expect(cycle.contains(BrokerScripts.storeUnlessSucceeded))
        #expect(BrokerScripts.all.map(\.name).sorted() == ["cycle", "fetch", "forget", "promote", "restore", "store-result", "trim-dead"])
    }

    @Test("settleParts fills the layout for every settlement kind")
    func parts() {
        let broker = RedisBroker(keyPrefix: "p", concurrency: 1, resultExpires: 100, heartbeatTTL: .seconds(5))
        let delivery = RedisDelivery(slot: 0, listKey: "celery", raw: Array("raw".utf8))
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let ack = broker.settleParts(delivery, .ackExpiring(result: .success(taskID: "id", result: 1, dateDone: now), seconds: 10), separateBackend: false, now: now)
        #expect(ack.arguments.action == .ack)
        #expect(ack.arguments.ttl == 10)
        #expect(ack.arguments.message == delivery.raw)
        #expect(ack.resultKey == Array(CeleryResult.key(taskID: "id").utf8))
        #expect(!ack.arguments.result.isEmpty)

        let until = now.addingTimeInterval(1)
        let delay = broker.settleParts(delivery, .delay(message: [1], listKey: "q", until: until, result: nil), separateBackend: false, now: now)
        #expect(delay.arguments.action == .delay)
        #expect(delay.arguments.payload == RedisBroker.delayedMember(listKey: "q", message: [1]))
        #expect(delay.arguments.score == RedisBroker.score(until))
        #expect(delay.target == Array(broker.keys.delayed.utf8))

        let push = broker.settleParts(delivery, .requeue(message: [2], listKey: "q"), separateBackend: false, now: now)
        #expect(push.arguments.action == .push)
        #expect(push.target == Array("q".utf8))

        let separate = broker.settleParts(delivery, .ack(result: .success(taskID: "id", result: 1, dateDone: now)), separateBackend: true, now: now)
        #expect(separate.arguments.result.isEmpty)
        #expect(separate.separate?.key == CeleryResult.key(taskID: "id"))
    }
}
