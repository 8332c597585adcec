import Foundation
public import CeleryProtocol
public import Redis

/// What `oauthq status` shows: queues by priority, delayed and dead-letter counts, workers.
public struct RedisQueueStatus: Sendable, Codable, Equatable {
    /// One queue: pending messages per priority step (kombu's lists `q`, `q\x06\x163`, …).
    public struct Queue: Sendable, Codable, Equatable {
        public var name: String
        /// Step ("0", "3", "6", "9") → pending messages.
        public var pending: [String: Int]
        public var total: Int { pending.values.reduce(0, +) }
    }

    /// One registered worker process.
    public struct Worker: Sendable, Codable, Equatable {
        public var id: String
        public var name: String
        public var pid: Int
        public var host: String
        public var started: String
        public var lastHeartbeat: String
        /// False when its heartbeat key has expired (a reaper will return its messages).
        public var alive: Bool
        public var queues: [String]
        public var concurrency: Int
        public var done: Int
        public var failed: Int
        /// Messages in its processing lists right now.
        public var inFlight: Int
        /// The worker's notice (e.g. tasks it refuses because of schema drift), if any.
        public var notice: String? = nil
    }

    public var queues: [Queue]
    /// Messages parked for an ETA, countdown or retry.
    public var delayed: Int
    /// Dead-lettered messages.
    public var dead: Int
    public var workers: [Worker]
}

/// Read-only inspection and dead-letter handling over the worker's Redis keys.
public struct RedisQueueInspector: Sendable {
    public let keys: RedisBroker.Keys

    public init(keys: RedisBroker.Keys) {
        self.keys = keys
    }

    /// Queues, counts and workers. `queues` adds to the queues the live workers consume.
    public func status(queues extra: [String], on connection: RedisConnection) async throws -> RedisQueueStatus {
        var workers: [RedisQueueStatus.Worker] = []
        let ids = try await connection.command("SMEMBERS", keys.workers).array?.compactMap(\.string) ?? []
        // Every value below was written by another process: numbers are parsed without traps and bounded, and
        // the processing lists are counted in one pipeline, so the answer comes in a few round trips whatever a
        // worker hash says.
        for id in ids.sorted().prefix(WorkerHashBounds.maximumListedWorkers) {
            let fields = (try? await connection.command("HGETALL", keys.worker(id)).array) ?? []
            var info: [String: String] = [:]
            for pair in stride(from: 0, to: fields.count - 1, by: 2) {
                if let key = fields[pair].string { info[key] = String((fields[pair + 1].string ?? "").prefix(256)) }
            }
            let concurrency = WorkerHashBounds.concurrency(info["concurrency"]) ?? 1
            let lengths = try await connection.pipeline(
                (0..<concurrency).map { [Array("LLEN".utf8), Array(keys.processing(id, slot: $0).utf8)] }
            )
            let inFlight = lengths.reduce(0) { $0 + Int(clamping: $1.int ?? 0) }
            let alive = try await connection.command("EXISTS", keys.heartbeat(id)).int == 1
            func number(_ field: String) -> Int { info[field].flatMap { Int($0) } ?? 0 }
            workers.append(
                .init(
                    id: id, name: info["name"] ?? "?", pid: number("pid"), host: info["host"] ?? "?",
                    started: info["started"] ?? "", lastHeartbeat: info["last_heartbeat"] ?? "", alive: alive,
                    queues: (info["queues"] ?? "").split(separator: ",").map(String.init), concurrency: concurrency,
                    done: number("done"), failed: number("failed"), inFlight: inFlight,
                    notice: info["notice"].flatMap { $0.isEmpty ? nil : $0 }
                )
            )
        }
        var names = extra
        for worker in workers where worker.alive {
            for queue in worker.queues where !names.contains(queue) { names.append(queue) }
        }
        if names.isEmpty { names = [CeleryQueue.defaultQueue] }
        var queues: [RedisQueueStatus.Queue] = []
        for name in names {
            var pending: [String: Int] = [:]
            for step in [0, 3, 6, 9] {
                let key = CeleryQueue.listKey(queue: name, priority: step)
                pending[String(step)] = Int(try await connection.command("LLEN", key).int ?? 0)
            }
            queues.append(.init(name: name, pending: pending))
        }
        return RedisQueueStatus(
            queues: queues,
            delayed: Int(try await connection.command("ZCARD", keys.delayed).int ?? 0),
            dead: Int(try await connection.command("LLEN", keys.dead).int ?? 0),
            workers: workers
        )
    }

    /// A dead letter as stored, with its raw record (needed to remove exactly that entry).
    public struct StoredDeadLetter: Sendable {
        public let record: [UInt8]
        /// Nil when the record itself does not decode.
        public let letter: DeadLetter?
    }

    /// The oldest `limit` dead letters (the list is appended with RPUSH).
    public func deadLetters(limit: Int, on connection: RedisConnection) async throws -> [StoredDeadLetter] {
        let items = try await connection.command("LRANGE", keys.dead, "0", String(max(limit, 1) - 1)).array ?? []
        return items.compactMap(\.bytes).map { StoredDeadLetter(record: $0, letter: try? DeadLetter.decode($0).get()) }
    }

    /// Moves dead letters back to their queues: those whose task id is in `taskIDs`, or all when nil.
    /// Only messages that decode can be requeued (an undecodable one would be dead-lettered again), and not those
    /// whose client secret was redacted. A requeued message starts with fresh delivery counters (a poison pill
    /// dead-lettered as `WorkerLost` gets another N tries).
    /// Each move is atomic (`LREM` from the dead list, then `LPUSH` to the queue's priority list), so two
    /// operators never requeue the same letter twice.
    /// - Returns: (requeued, left because they do not decode).
    public func requeue(taskIDs: Set<String>?, on connection: RedisConnection) async throws -> (requeued: Int, undecodable: Int) {
        let all = try await deadLetters(limit: Int(try await connection.command("LLEN", keys.dead).int ?? 0), on: connection)
        var requeued = 0, undecodable = 0
        for stored in all {
            guard let letter = stored.letter else { undecodable += 1; continue }
            if let taskIDs, !taskIDs.contains(letter.taskID ?? "") { continue }
            guard case .success(let message) = CeleryMessage.decode(letter.original),
                !DeadLetter.secretKeywords.contains(where: { message.kwargs[$0] == .string(DeadLetter.redactedValue) })
            else {
                // Undecodable, or its client secret was redacted when it was stored: running it would use the
                // placeholder as the secret. The sender must send it again.
                undecodable += 1
                continue
            }
            // The one return rule: the queue it was read from (recorded in the letter), else its routing.
            let source = letter.queue.isEmpty ? nil : CeleryQueue.listKey(queue: CeleryQueue.queueName(ofListKey: letter.queue), priority: message.priority)
            let list = CeleryQueue.returnListKey(for: message, fetchedFrom: source)
            let moved = try await connection.command([
                Array("EVAL".utf8), Array(Self.moveScript.utf8), Array("2".utf8), Array(keys.dead.utf8), Array(list.utf8),
                stored.record, message.withoutDeliveryCounters(),
            ])
            if moved.int == 1 { requeued += 1 }
        }
        return (requeued, undecodable)
    }

    /// Deletes every dead letter. Returns how many there were.
    public func purge(on connection: RedisConnection) async throws -> Int {
        let replies = try await connection.pipeline([
            [Array("MULTI".utf8)], [Array("LLEN".utf8), Array(keys.dead.utf8)], [Array("DEL".utf8), Array(keys.dead.utf8)],
            [Array("EXEC".utf8)],
        ])
        return Int(replies.last?.array?.first?.int ?? 0)
    }

    static let moveScript = """
        local kind = redis.call('TYPE', KEYS[2])['ok']
        if kind ~= 'list' and kind ~= 'none' then return 0 end
        if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then
            redis.call('LPUSH', KEYS[2], ARGV[2])
            return 1
        end
        return 0
        """
}
