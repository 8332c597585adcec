public import Redis

extension RedisBroker {
    /// Moves the next message into `slot`'s processing list without waiting: the first message of the first
    /// non-empty list in `listKeys` (use `CeleryQueue.fetchOrder(queues:rotation:)`).
    /// - Returns: the delivery, or nil when every list is empty.
    /// - Throws: ``RedisError``.
    public func fetch(slot: Int, listKeys: [String], on connection: isolated RedisConnection) throws -> RedisDelivery? {
        guard !listKeys.isEmpty else { return nil }
        let reply = try BrokerScripts.fetch.run(on: connection, keys: fetchKeys(slot: slot, listKeys: listKeys), arguments: [])
        return delivery(from: reply, slot: slot)
    }

    func fetchKeys(slot: Int, listKeys: [String]) -> [[UInt8]] {
        var keys: [[UInt8]] = [utf8(processingKey(slot: slot)), utf8(sourceKey(slot: slot))]
        keys.reserveCapacity(listKeys.count + 2)
        for key in listKeys { keys.append(utf8(key)) }
        return keys
    }

    func delivery(from reply: RedisValue, slot: Int) -> RedisDelivery? {
        guard case .array(let parts) = reply, parts.count == 2, let list = parts[0].string, let raw = parts[1].bytes else {
            return nil
        }
        return RedisDelivery(slot: slot, listKey: list, raw: raw)
    }

    /// Waits up to `timeout` for a message on `listKey` and moves it into `slot`'s processing list
    /// (`BLMOVE listKey processing RIGHT LEFT timeout`). Redis rounds the timeout to its `hz` (0.1 s).
    /// The connection's command timeout must exceed `timeout`.
    /// - Returns: the delivery, or nil on timeout.
    public func blockingFetch(
        slot: Int,
        listKey: String,
        timeout: Duration,
        on connection: isolated RedisConnection
    ) throws -> RedisDelivery? {
        let (seconds, attoseconds) = timeout.components
        let milliseconds = max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        let timeoutText = String(Double(milliseconds) / 1000)
        let reply = try connection.command([
            utf8("BLMOVE"), utf8(listKey), utf8(processingKey(slot: slot)), utf8("RIGHT"), utf8("LEFT"), utf8(timeoutText),
        ])
        guard let raw = reply.bytes else { return nil }
        return RedisDelivery(slot: slot, listKey: listKey, raw: raw)
    }
}

extension RedisBroker {
    /// Records the list `delivery` was fetched from in the slot's source hash, for a message whose routing names
    /// another list: if this process dies while holding it, a reaper returns it to that list (see
    /// ``CeleryQueue/returnListKey(for:fetchedFrom:)``). Messages whose routing names their list need no entry.
    public func recordSource(_ delivery: RedisDelivery, on connection: isolated RedisConnection) throws {
        let key = sourceKey(slot: delivery.slot)
        let kind = try connection.command([utf8("TYPE"), utf8(key)]).string
        guard kind == "hash" || kind == "none" else { return }  // another program's key: recovery uses routing
        _ = try connection.command([utf8("HSET"), utf8(key), delivery.raw, utf8(delivery.listKey)])
    }
}
