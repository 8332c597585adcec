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
        broker: isolated RedisConnection,
        backend: RedisConnection? = nil,
        now: Date = Date()
    ) async throws -> RedisSettleOutcome {
        let (command, separate) = settleCommand(delivery, settlement, separateBackend: backend != nil, now: now)
        var writtenSeparately = false
        if let backend, let (key, json) = separate {
            writtenSeparately = try await backend.storeEncoded(json, key: key, expires: resultExpires)
        }
        let reply: RedisValue
        do {
            reply = try broker.command(command)
        } catch let error as RedisError where error.serverPrefix == "NOSCRIPT" {
            reply = try broker.command(BrokerScripts.settle.eval(command))
        }
        return Self.outcome(reply, writtenSeparately: writtenSeparately)
    }

    /// Settles `delivery` and fetches the slot's next message in one round trip (a pipeline of the settle and
    /// fetch scripts, in that order).
    /// - Returns: the settlement's outcome and the next delivery (nil when every list was empty).
    public func settleAndFetch(
        _ delivery: RedisDelivery,
        _ settlement: RedisSettlement,
        listKeys: [String],
        broker: isolated RedisConnection,
        backend: RedisConnection? = nil,
        now: Date = Date()
    ) async throws -> (RedisSettleOutcome, RedisDelivery?) {
        let (command, separate) = settleCommand(delivery, settlement, separateBackend: backend != nil, now: now)
        var writtenSeparately = false
        if let backend, let (key, json) = separate {
            writtenSeparately = try await backend.storeEncoded(json, key: key, expires: resultExpires)
        }
        let fetch = BrokerScripts.fetch.evalsha(keys: fetchKeys(slot: delivery.slot, listKeys: listKeys), arguments: [])
        var replies = try broker.pipeline([command, fetch])
        // In order: a settle that missed the script cache runs after the fetch, which is harmless (it removes
        // its message by value).
        if RedisScript.isNoScript(replies[0]) { replies[0] = try broker.command(BrokerScripts.settle.eval(command)) }
        if case .error(let message) = replies[0] { throw RedisError(.server, "settle failed", serverPrefix: Self.prefix(message)) }
        let outcome = Self.outcome(replies[0], writtenSeparately: writtenSeparately)
        if RedisScript.isNoScript(replies[1]) { replies[1] = try broker.command(BrokerScripts.fetch.eval(fetch)) }
        if case .error(let message) = replies[1] { throw RedisError(.server, "fetch failed", serverPrefix: Self.prefix(message)) }
        return (outcome, self.delivery(from: replies[1], slot: delivery.slot))
    }

    private static func prefix(_ message: String) -> String {
        String(message.prefix { !$0.isWhitespace })
    }

    private static func outcome(_ reply: RedisValue, writtenSeparately: Bool) -> RedisSettleOutcome {
        let parts = reply.array ?? []
        let removed = (parts.first?.int ?? 0) > 0
        let written = parts.count > 1 && (parts[1].int ?? 0) > 0
        return RedisSettleOutcome(removed: removed, resultWritten: written || writtenSeparately)
    }

    /// The settle script's `EVALSHA` command; with a separate backend, the result (key and JSON) to store
    /// there first instead.
    private func settleCommand(
        _ delivery: RedisDelivery,
        _ settlement: RedisSettlement,
        separateBackend: Bool,
        now: Date
    ) -> (command: [[UInt8]], separate: (key: String, json: [UInt8])?) {
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
        var separate: (key: String, json: [UInt8])?
        if let result {
            let key = CeleryResult.key(taskID: result.taskID)
            let encoded = result.encoded(now: now)
            if separateBackend {
                separate = (key, encoded)
            } else {
                resultKey = key
                resultJSON = encoded
            }
        }
        let command = BrokerScripts.settle.evalsha(
            keys: [utf8(processingKey(slot: delivery.slot)), utf8(resultKey), utf8(target)],
            arguments: [delivery.raw, resultJSON, utf8(String(resultExpires)), utf8(action), payload, utf8(score)]
        )
        return (command, separate)
    }

    /// Writes `result` to the backend (never over a stored SUCCESS) and publishes it.
    /// - Returns: whether it was written.
    @discardableResult
    public func storeResult(_ result: CeleryResult, on backend: isolated RedisConnection, now: Date = Date()) throws -> Bool {
        try backend.storeEncoded(result.encoded(now: now), key: CeleryResult.key(taskID: result.taskID), expires: resultExpires)
    }

    /// The stored result for `taskID`, or nil when none (or unreadable).
    public func storedResult(taskID: String, on backend: isolated RedisConnection) throws -> CeleryResult? {
        let reply = try backend.command([utf8("GET"), utf8(CeleryResult.key(taskID: taskID))])
        guard let bytes = reply.bytes else { return nil }
        return try? CeleryResult.decode(bytes).get()
    }
}

extension RedisConnection {
    /// The store-result script on this connection.
    func storeEncoded(_ json: [UInt8], key: String, expires: Int) throws -> Bool {
        let reply = try BrokerScripts.storeResult.run(on: self, keys: [utf8(key)], arguments: [json, utf8(String(expires))])
        return (reply.int ?? 0) > 0
    }
}
