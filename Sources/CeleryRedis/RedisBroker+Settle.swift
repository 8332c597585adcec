public import Foundation
public import CeleryProtocol
public import Redis

/// What to do with a delivery once the worker is done with it.
public enum RedisSettlement: Sendable, Hashable {
    /// The task ran (or was revoked, or was a duplicate): write `result` (nil: none, e.g. `ignore_result`)
    /// and drop the message.
    case ack(result: CeleryResult?)
    /// ``ack(result:)`` whose result is kept for at most `seconds` (the shorter of it and the broker's
    /// `resultExpires`), e.g. a result carrying a generated client secret.
    case ackExpiring(result: CeleryResult, seconds: Int)
    /// Park `message` in the delayed set until `until`, then return it to `listKey`; write `result` first
    /// (e.g. `RETRY`). The original message leaves the processing list.
    case delay(message: [UInt8], listKey: String, until: Date, result: CeleryResult?)
    /// Append `deadLetter` to the dead list; write `result` (a `FAILURE`, when the id is known).
    case deadLetter(DeadLetter, result: CeleryResult?)
    /// Return `message` to `listKey` with `RPUSH` (served next), e.g. on shutdown.
    case requeue(message: [UInt8], listKey: String)
}

extension RedisBroker {
    /// The delayed-set member for `message` due back on `listKey`: `<listKey> NUL <message>`.
    public static func delayedMember(listKey: String, message: [UInt8]) -> [UInt8] {
        var member = Array(listKey.utf8)
        member.append(0)
        member += message
        return member
    }

    /// Settles `settlements` (all of `slot`, see ``RedisSettlement``) and fetches up to `limit` messages into the
    /// slot's processing list, in one script call: one round trip for a whole batch (two with a separate result
    /// backend, whose results are stored first in one pipeline). The only way a delivery is settled; `fetching: 0`
    /// settles only.
    /// - Throws: ``RedisError``. Settlements are idempotent: after a connection error retry them on a new
    ///   connection.
    /// - Returns: the fetched deliveries in the order to run them.
    public func cycle(
        slot: Int,
        settling settlements: [(RedisDelivery, RedisSettlement)],
        fetching limit: Int,
        listKeys: [String],
        broker: isolated RedisConnection,
        backend: RedisConnection? = nil,
        now: Date = Date()
    ) async throws -> [RedisDelivery] {
        var keys: [[UInt8]] = [utf8(processingKey(slot: slot)), utf8(sourceKey(slot: slot))]
        var arguments: [[UInt8]] = [utf8(String(settlements.count)), utf8(String(max(0, limit)))]
        var separate: [[[UInt8]]] = []
        for (delivery, settlement) in settlements {
            precondition(delivery.slot == slot, "a cycle settles the deliveries of its own slot")
            let parts = settleParts(delivery, settlement, separateBackend: backend != nil, now: now)
            keys.append(parts.resultKey)
            keys.append(parts.target)
            arguments += parts.arguments.encoded
            if let (key, json, expires) = parts.separate {
                separate.append(BrokerScripts.storeResult.evalsha(keys: [utf8(key)], arguments: [json, utf8(String(expires))]))
            }
        }
        if let backend, !separate.isEmpty {
            try await backend.runPipelinedScripts(separate, script: BrokerScripts.storeResult)
        }
        for key in listKeys { keys.append(utf8(key)) }
        let reply = try BrokerScripts.cycle.run(on: broker, keys: keys, arguments: arguments)
        let flat = reply.array ?? []
        var deliveries: [RedisDelivery] = []
        deliveries.reserveCapacity(flat.count / 2)
        var index = 0
        while index + 1 < flat.count {
            if let list = flat[index].string, let raw = flat[index + 1].bytes {
                deliveries.append(RedisDelivery(slot: slot, listKey: list, raw: raw))
            }
            index += 2
        }
        return deliveries
    }

    /// One settlement as script keys (result key, target) and its ``SettlementArguments``; with a separate
    /// backend, the result (key, JSON, TTL) to store there first instead.
    func settleParts(
        _ delivery: RedisDelivery,
        _ settlement: RedisSettlement,
        separateBackend: Bool,
        now: Date
    ) -> (resultKey: [UInt8], target: [UInt8], arguments: SettlementArguments, separate: (key: String, json: [UInt8], expires: Int)?) {
        var result: CeleryResult?
        var arguments = SettlementArguments(message: delivery.raw)
        var target = processingKey(slot: delivery.slot)
        var expires = resultExpires
        switch settlement {
        case .ack(let r):
            result = r
        case .ackExpiring(let r, let seconds):
            result = r
            let bounded = max(1, seconds)
            expires = resultExpires == 0 ? bounded : min(resultExpires, bounded)
        case .delay(let message, let listKey, let until, let r):
            result = r
            arguments.action = .delay
            target = keys.delayed
            arguments.payload = Self.delayedMember(listKey: listKey, message: message)
            arguments.score = Self.score(until)
        case .deadLetter(let record, let r):
            result = r
            arguments.action = .dead
            target = keys.dead
            arguments.payload = record.encoded()
        case .requeue(let message, let listKey):
            arguments.action = .push
            target = listKey
            arguments.payload = message
        }
        arguments.ttl = expires

        var resultKey = processingKey(slot: delivery.slot)
        var separate: (key: String, json: [UInt8], expires: Int)?
        if let result {
            let key = CeleryResult.key(taskID: result.taskID)
            let encoded = result.encoded(now: now)
            if separateBackend {
                separate = (key, encoded, expires)
            } else {
                resultKey = key
                arguments.result = encoded
            }
        }
        return (utf8(resultKey), utf8(target), arguments, separate)
    }

    /// The delayed-set score of `date`: milliseconds since 1970, rounded up, clamped to years 1…9999 (no trap).
    static func score(_ date: Date) -> String {
        let milliseconds = (date.timeIntervalSince1970 * 1000).rounded(.up)
        guard milliseconds.isFinite else { return "0" }
        return String(Int64(min(max(milliseconds, -62_135_596_800_000), 253_402_300_799_999)))
    }

    /// The result backend on this broker's database, with its `resultExpires`.
    public var results: RedisResultBackend { RedisResultBackend(resultExpires: resultExpires) }
}

extension RedisConnection {
    /// Runs `EVALSHA` commands of `script` in one pipeline, re-running any that missed the script cache.
    func runPipelinedScripts(_ commands: [[[UInt8]]], script: RedisScript) throws {
        let replies = try pipeline(commands)
        for (command, reply) in zip(commands, replies) {
            if RedisScript.isNoScript(reply) {
                _ = try self.command(script.eval(command))
            } else if case .error(let message) = reply {
                throw RedisError(.server, "\(script.name) failed", serverPrefix: String(message.prefix { !$0.isWhitespace }))
            }
        }
    }

    /// The store-result script on this connection.
    func storeEncoded(_ json: [UInt8], key: String, expires: Int) throws -> Bool {
        let reply = try BrokerScripts.storeResult.run(on: self, keys: [utf8(key)], arguments: [json, utf8(String(expires))])
        return (reply.int ?? 0) > 0
    }
}
