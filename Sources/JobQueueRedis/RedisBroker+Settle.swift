public import Foundation
public import JobQueue
public import Redis

/// What to do with a delivery once the worker is done with it.
public enum RedisSettlement: Sendable, Hashable {
    /// The task ran (or was revoked, or was a duplicate): write `result` (nil: none, e.g. `ignore_result`)
    /// and drop the message.
    case ack(result: CeleryResult?)
    /// Park `message` in the delayed set until `until`, then return it to `listKey`; write `result` first
    /// (e.g. `RETRY`). The original message leaves the processing list.
    case delay(message: [UInt8], listKey: String, until: Date, result: CeleryResult?)
    /// Append `deadLetter` to the dead list; write `result` (a `FAILURE`, when the id is known).
    case deadLetter(DeadLetter, result: CeleryResult?)
    /// Return `message` to `listKey` with `RPUSH` (served next), e.g. on shutdown.
    case requeue(message: [UInt8], listKey: String)
}

/// What a settlement did.
public struct RedisSettleOutcome: Sendable, Hashable {
    /// False when the message was no longer in the processing list (a reaper had returned it to its
    /// queue). Then only an `ack`'s result was written; the other actions did nothing.
    public var removed: Bool
    /// Whether a result was written (false when none was given or a SUCCESS was already stored).
    public var resultWritten: Bool

    public init(removed: Bool, resultWritten: Bool) {
        self.removed = removed
        self.resultWritten = resultWritten
    }
}

extension RedisBroker {
    /// The delayed-set member for `message` due back on `listKey`: `<listKey> NUL <message>`.
    public static func delayedMember(listKey: String, message: [UInt8]) -> [UInt8] {
        var member = Array(listKey.utf8)
        member.append(0)
        member += message
        return member
    }

    /// Settles `delivery` atomically (see ``RedisSettlement``).
    /// - Parameters:
    ///   - broker: the broker connection.
    ///   - backend: the result backend connection when it is another server or database; nil when results go
    ///     to the broker's database (then result and removal are one script).
    /// - Throws: ``RedisError``. A settlement is idempotent: after a connection error retry it on a new
    ///   connection.
    @discardableResult
    public func settle(
        _ delivery: RedisDelivery,
        _ settlement: RedisSettlement,
        broker: RedisConnection,
        backend: RedisConnection? = nil,
        now: Date = Date()
    ) async throws -> RedisSettleOutcome {
        var result: CeleryResult?
        var action = "ack"
        var target = processingKey(slot: delivery.slot)
        var payload: [UInt8] = []
        var score = ""
        switch settlement {
        case .ack(let r):
            result = r
        case .delay(let message, let listKey, let until, let r):
            result = r
            action = "delay"
            target = keys.delayed
            payload = Self.delayedMember(listKey: listKey, message: message)
            score = String(Int64((until.timeIntervalSince1970 * 1000).rounded(.up)))
        case .deadLetter(let record, let r):
            result = r
            action = "dead"
            target = keys.dead
            payload = record.encoded()
        case .requeue(let message, let listKey):
            action = "push"
            target = listKey
            payload = message
        }

        var resultJSON: [UInt8] = []
        var resultKey = processingKey(slot: delivery.slot)
        var writtenSeparately = false
        if let result {
            resultKey = CeleryResult.key(taskID: result.taskID)
            let encoded = result.encoded(now: now)
            if let backend {
                writtenSeparately = try await store(encoded, key: resultKey, on: backend)
            } else {
                resultJSON = encoded
            }
        }
        let reply = try await BrokerScripts.settle.run(
            on: broker,
            keys: [utf8(processingKey(slot: delivery.slot)), utf8(resultKey), utf8(target)],
            arguments: [delivery.raw, resultJSON, utf8(String(resultExpires)), utf8(action), payload, utf8(score)]
        )
        let parts = reply.array ?? []
        let removed = (parts.first?.int ?? 0) > 0
        let written = parts.count > 1 && (parts[1].int ?? 0) > 0
        return RedisSettleOutcome(removed: removed, resultWritten: written || writtenSeparately)
    }

    /// Writes `result` to the backend (never over a stored SUCCESS) and publishes it.
    /// - Returns: whether it was written.
    @discardableResult
    public func storeResult(_ result: CeleryResult, on backend: RedisConnection, now: Date = Date()) async throws -> Bool {
        try await store(result.encoded(now: now), key: CeleryResult.key(taskID: result.taskID), on: backend)
    }

    private func store(_ json: [UInt8], key: String, on backend: RedisConnection) async throws -> Bool {
        let reply = try await BrokerScripts.storeResult.run(
            on: backend, keys: [utf8(key)], arguments: [json, utf8(String(resultExpires))]
        )
        return (reply.int ?? 0) > 0
    }

    /// The stored result for `taskID`, or nil when none (or unreadable).
    public func storedResult(taskID: String, on backend: RedisConnection) async throws -> CeleryResult? {
        let reply = try await backend.command([utf8("GET"), utf8(CeleryResult.key(taskID: taskID))])
        guard let bytes = reply.bytes else { return nil }
        return try? CeleryResult.decode(bytes).get()
    }
}
