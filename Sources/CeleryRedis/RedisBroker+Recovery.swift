import CivilCalendar
public import Foundation
import CeleryProtocol
public import Redis

/// What the worker hash `P:worker:<id>` shows about a process.
public struct RedisWorkerInfo: Sendable, Hashable {
    public var name: String
    public var pid: Int32
    public var host: String
    public var started: Date
    public var queues: [String]
    public var concurrency: Int
    public var done: Int
    public var failed: Int
    /// A one-line notice for `oauthq status` (e.g. tasks refused because of schema drift); nil: none.
    public var notice: String?

    public init(
        name: String, pid: Int32 = ProcessInfo.processInfo.processIdentifier,
        host: String = ProcessInfo.processInfo.hostName, started: Date = Date(), queues: [String], concurrency: Int,
        done: Int = 0, failed: Int = 0, notice: String? = nil
    ) {
        self.notice = notice
        self.name = name
        self.pid = pid
        self.host = host
        self.started = started
        self.queues = queues
        self.concurrency = concurrency
        self.done = done
        self.failed = failed
    }
}

extension RedisBroker {
    // MARK: - Membership

    /// Registers (or re-registers) this process and refreshes its heartbeat, in one pipeline:
    /// `HSET P:worker:<id> …`, `SADD P:workers <id>`, `SET P:heartbeat:<id> <ms> PX <ttl>`.
    /// Call it at start and every second; re-registering also repairs the entry if a reaper forgot this
    /// process after a long stall.
    public func heartbeat(_ info: RedisWorkerInfo, on connection: isolated RedisConnection, now: Date = Date()) throws {
        let nowText = CeleryTimestamp.format(now)
        let fields: [(String, String)] = [
            ("name", info.name), ("pid", String(info.pid)), ("host", info.host),
            ("started", CeleryTimestamp.format(info.started)), ("queues", info.queues.joined(separator: ",")),
            ("concurrency", String(info.concurrency)), ("done", String(info.done)), ("failed", String(info.failed)),
            ("last_heartbeat", nowText),
        ]
        var hset: [[UInt8]] = [utf8("HSET"), utf8(keys.worker(workerID))]
        for (name, value) in fields {
            hset.append(utf8(name))
            hset.append(utf8(value))
        }
        let ttl = heartbeatTTL.components
        let ttlMilliseconds = max(1, ttl.seconds * 1000 + ttl.attoseconds / 1_000_000_000_000_000)
        let notice: [[UInt8]] = if let text = info.notice {
            [utf8("HSET"), utf8(keys.worker(workerID)), utf8("notice"), utf8(text)]
        } else {
            [utf8("HDEL"), utf8(keys.worker(workerID)), utf8("notice")]
        }
        let replies = try connection.pipeline([
            hset,
            notice,
            [utf8("SADD"), utf8(keys.workers), utf8(workerID)],
            [
                utf8("SET"), utf8(keys.heartbeat(workerID)), utf8(String(Int64(now.timeIntervalSince1970 * 1000))),
                utf8("PX"), utf8(String(ttlMilliseconds)),
            ],
        ])
        if let message = replies.compactMap(\.errorMessage).first {
            throw RedisError(.server, "heartbeat failed", serverPrefix: String(message.prefix { !$0.isWhitespace }))
        }
    }

    /// Deletes the heartbeat and, when every processing list of this process is empty, forgets it. If a list
    /// still holds a message (it could not be returned), the entry stays and the next reaper returns it.
    /// - Returns: true when the process was forgotten.
    @discardableResult
    public func deregister(on connection: isolated RedisConnection) throws -> Bool {
        _ = try connection.command([utf8("DEL"), utf8(keys.heartbeat(workerID))])
        return try forget(workerID: workerID, lists: (0..<concurrency).map { processingKey(slot: $0) }, on: connection)
    }

    private func forget(workerID id: String, lists: [String], on connection: isolated RedisConnection) throws -> Bool {
        var scriptKeys = [utf8(keys.heartbeat(id)), utf8(keys.workers), utf8(keys.worker(id))]
        for list in lists { scriptKeys.append(utf8(list)) }
        for list in lists { scriptKeys.append(utf8(keys.source(ofProcessingList: list))) }
        scriptKeys.append(utf8(keys.running(id)))
        let reply = try BrokerScripts.forget.run(on: connection, keys: scriptKeys, arguments: [utf8(id), utf8(String(lists.count))])
        return reply.int == 1
    }

    // MARK: - Recovery

    /// Returns whatever is in this process's processing list for `slot` to its queue (marked redelivered).
    /// Call it before a slot fetches after (re)connecting, while the slot holds nothing.
    /// - Returns: the number of messages moved (returned to their queues, or dead-lettered when undecodable).
    @discardableResult
    public func recover(slot: Int, on connection: isolated RedisConnection, workerName: String) throws -> Int {
        try restore(
            list: processingKey(slot: slot), ownerID: workerID, checkHeartbeat: false, workerName: workerName,
            on: connection
        )
    }

    /// Finds registered workers whose heartbeat key has expired and returns their in-flight messages to their
    /// queues (redelivered), then forgets them. Safe to run from any number of workers at once.
    /// - Returns: the number of messages moved (returned to their queues, or dead-lettered when undecodable).
    @discardableResult
    public func reapDeadWorkers(on connection: isolated RedisConnection, workerName: String) throws -> Int {
        // Bounded work per sweep, whatever another program put in the set: at most ``maximumWorkersPerSweep``
        // ids are looked at (a random sample when there are more), and at most ``maximumScansPerSweep`` of the
        // dead ones without a trustworthy hash are searched for by SCAN. The rest waits for the next sweep.
        let count = try connection.command([utf8("SCARD"), utf8(keys.workers)]).int ?? 0
        let members = count > Int64(Self.maximumWorkersPerSweep)
            ? try connection.command([utf8("SRANDMEMBER"), utf8(keys.workers), utf8(String(Self.maximumWorkersPerSweep))]).array ?? []
            : try connection.command([utf8("SMEMBERS"), utf8(keys.workers)]).array ?? []
        let others = members.compactMap(\.string).filter { $0 != workerID }
        guard !others.isEmpty else { return 0 }
        let alive = try connection.pipeline(others.map { [utf8("EXISTS"), utf8(keys.heartbeat($0))] })
        var moved = 0
        var scans = 0
        for (id, exists) in zip(others, alive) where exists.int == 0 {
            do {
                moved += try reap(id, workerName: workerName, scans: &scans, on: connection)
            } catch let error as RedisError where error.code == .server {
                // A key of the wrong type (written by another program): skip this worker, never stall the reaper.
                continue
            }
        }
        return moved
    }

    /// The most worker ids one sweep looks at, and the most of them it may search for by `SCAN`.
    static let maximumWorkersPerSweep = 1000
    static let maximumScansPerSweep = 5

    /// Returns the messages of the dead worker `id` and forgets it. Returns how many were moved.
    private func reap(_ id: String, workerName: String, scans: inout Int, on connection: isolated RedisConnection) throws -> Int {
        var moved = 0
        let concurrencyValue = try connection.command([
            utf8("HGET"), utf8(keys.worker(id)), utf8("concurrency"),
        ])
        // The hash is another process's word: a concurrency out of range (or absent) is not trusted, the
        // processing lists are found by SCAN instead.
        let lists: [String]
        if let concurrency = WorkerHashBounds.concurrency(concurrencyValue.string) {
            lists = (0..<concurrency).map { keys.processing(id, slot: $0) }
        } else {
            guard scans < Self.maximumScansPerSweep else { return 0 }
            scans += 1
            lists = try scanProcessingLists(of: id, on: connection)
        }
        // The suspect it was running, if any: then only that message is charged with this worker's death.
        var blamed: [UInt8]?
        do {
            blamed = try connection.command([utf8("GET"), utf8(keys.running(id))]).bytes
        } catch let error as RedisError where error.code == .server {
            blamed = nil  // not a string: charge every message, as without a marker
        }
        var heartbeatReturned = false
        for list in lists {
            let count = try restore(
                list: list, ownerID: id, checkHeartbeat: true, workerName: workerName, blamed: blamed, on: connection
            )
            if count < 0 {
                heartbeatReturned = true
                break
            }
            moved += count
        }
        if !heartbeatReturned {
            _ = try forget(workerID: id, lists: lists, on: connection)
        }
        return moved
    }

    /// Every `P:processing:<id>:*` key (for a worker whose hash is gone).
    private func scanProcessingLists(of id: String, on connection: isolated RedisConnection) throws -> [String] {
        let pattern = Self.globEscaped(keys.processing(id, slot: 0).dropLast(1)) + "*"
        var cursor = "0"
        var found: [String] = []
        repeat {
            let reply = try connection.command([
                utf8("SCAN"), utf8(cursor), utf8("MATCH"), utf8(pattern), utf8("COUNT"), utf8("1000"),
            ])
            guard let parts = reply.array, parts.count == 2, let next = parts[0].string else { break }
            cursor = next
            found += (parts[1].array ?? []).compactMap(\.string)
        } while cursor != "0"
        return found
    }

    static func globEscaped(_ text: some StringProtocol) -> String {
        var escaped = ""
        for character in text {
            if "*?[]\\".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }

    /// Returns every message of `list` to its queue, 100 per script call. -1 when the owner's heartbeat came
    /// back (only with `checkHeartbeat`).
    private func restore(
        list: String,
        ownerID: String,
        checkHeartbeat: Bool,
        workerName: String,
        blamed: [UInt8]? = nil,
        on connection: isolated RedisConnection
    ) throws -> Int {
        let items = (try connection.command([utf8("LRANGE"), utf8(list), utf8("0"), utf8("-1")]).array ?? [])
            .compactMap(\.bytes)
        var moved = 0
        var index = 0
        while index < items.count {
            let chunk = items[index..<min(index + 100, items.count)]
            index += chunk.count
            var arguments: [[UInt8]] = [utf8(checkHeartbeat ? "1" : "0")]
            let sourceKey = keys.source(ofProcessingList: list)
            var sources: [RedisValue] = []
            do {
                sources = try connection.command([utf8("HMGET"), utf8(sourceKey)] + Array(chunk)).array ?? []
            } catch let error as RedisError where error.code == .server {
                // Not a hash (another program wrote it): return by routing.
            }
            for (offset, raw) in chunk.enumerated() {
                let source = offset < sources.count ? sources[offset].string : nil
                // The owner died: charge the message it was running alone, or, without such a marker (a death
                // during an ordinary batch), every message it held.
                let charged = checkHeartbeat && (blamed == nil || blamed == raw)
                arguments += restoreEntry(raw, ownerID: ownerID, workerDied: charged, workerName: workerName, fetchedFrom: source)
            }
            let reply = try BrokerScripts.restore.run(
                on: connection, keys: [utf8(keys.heartbeat(ownerID)), utf8(list), utf8(keys.dead), utf8(sourceKey)], arguments: arguments
            )
            let count = Int(reply.int ?? 0)
            if count < 0 { return -1 }
            moved += count
        }
        return moved
    }

    /// One message's four restore arguments: the message as stored, the list to return it to, the bytes to
    /// push there, and a dead-letter record for when that list has the wrong type (or the message cannot be
    /// returned at all: over the size cap, or undecodable). The list is the one every return uses
    /// (``CeleryQueue/returnListKey(for:fetchedFrom:)``): the list recorded in the source hash at fetch time. When the owner died (`workerDied`), the message is
    /// marked with one more worker loss (poison-pill counting).
    func restoreEntry(_ raw: [UInt8], ownerID: String, workerDied: Bool, workerName: String, fetchedFrom: String?) -> [[UInt8]] {
        func dead(_ reason: String, taskID: String? = nil, taskName: String? = nil) -> DeadLetter {
            DeadLetter(
                reason: "recovered from the processing list of worker \(ownerID): \(reason)", queue: "", taskID: taskID,
                taskName: taskName, worker: workerName, original: raw
            )
        }
        guard raw.count <= maximumMessageBytes else {
            let record = dead("message of \(raw.count) bytes exceeds the \(maximumMessageBytes)-byte limit; not decoded")
            return [raw, utf8(keys.dead), record.encoded(), record.encoded()]
        }
        switch CeleryMessage.decode(raw) {
        case .success(let message):
            let list = CeleryQueue.returnListKey(for: message, fetchedFrom: fetchedFrom)
            let record = dead("its queue list \(TaskTriage.quoted(list)) is not a list", taskID: message.id, taskName: message.taskName)
            var returned = record
            returned.queue = CeleryQueue.queueName(ofListKey: list)
            let bytes = workerDied ? message.redeliveredAfterWorkerLoss() : message.redelivered()
            return [raw, utf8(list), bytes, returned.encoded()]
        case .failure(let error):
            let record = dead(error.reason, taskID: error.taskID, taskName: error.taskName)
            return [raw, utf8(keys.dead), record.encoded(), record.encoded()]
        }
    }

    // MARK: - Delayed messages

    /// Moves up to `limit` due members of the delayed set back to their lists.
    /// - Returns: how many were moved (call again at once when it equals `limit`).
    @discardableResult
    public func promoteDue(now: Date = Date(), limit: Int = 100, on connection: isolated RedisConnection) throws -> Int {
        let reply = try BrokerScripts.promote.run(
            on: connection,
            keys: [utf8(keys.delayed), utf8(keys.dead)],
            arguments: [utf8(String(Int64(now.timeIntervalSince1970 * 1000))), utf8(String(max(1, limit)))]
        )
        return Int(reply.int ?? 0)
    }

    /// Drops dead letters beyond `maximumCount` (oldest first) and older than `maximumAge` (nil or 0: no limit),
    /// at most 1,000 by age per call.
    /// - Returns: how many were dropped.
    @discardableResult
    public func trimDeadLetters(
        maximumCount: Int, maximumAge: Duration?, now: Date = Date(), on connection: isolated RedisConnection
    ) throws -> Int {
        var cutoff = ""
        if let maximumAge, maximumAge > .zero {
            cutoff = CeleryTimestamp.format(now.addingTimeInterval(-maximumAge.seconds))
        }
        let reply = try BrokerScripts.trimDead.run(
            on: connection, keys: [utf8(keys.dead)], arguments: [utf8(String(max(0, maximumCount))), utf8(cutoff), utf8("1000")]
        )
        return Int(clamping: reply.int ?? 0)
    }

    /// Marks `message` as the suspect this process runs alone now (`SET P:running:<id>`), or clears the mark (nil).
    public func markRunning(_ message: [UInt8]?, on connection: isolated RedisConnection) throws {
        if let message {
            _ = try connection.command([utf8("SET"), utf8(keys.running(workerID)), message])
        } else {
            _ = try connection.command([utf8("DEL"), utf8(keys.running(workerID))])
        }
    }

    /// Loads every script into the server's cache (`SCRIPT LOAD`), so that the first calls need no `EVAL`.
    public func loadScripts(on connection: isolated RedisConnection) throws {
        _ = try connection.pipeline(BrokerScripts.all.map { [utf8("SCRIPT"), utf8("LOAD"), utf8($0.source)] })
    }
}
