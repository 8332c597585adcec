import Foundation
import CeleryProtocol

/// Celery-compatible reliable fetch, settlement and recovery on kombu's Redis lists, without kombu's
/// `unacked` emulation (and without any visibility timeout).
///
/// ## Keys
/// kombu's lists are read as kombu writes them: queue `Q` at priority steps 0/3/6/9 is the lists `Q`,
/// `Q\x06\x163`, `Q\x06\x166`, `Q\x06\x169`; producers `LPUSH`, consumers take from the right (FIFO), and
/// step 0 is served first. kombu's `unacked`, `unacked_index` and `unacked_mutex` are never read or
/// written. oauthq's own keys live under a prefix `P` (default `oauthq`):
///
/// | key | type | content |
/// |---|---|---|
/// | `P:workers` | set | ids of the registered worker processes |
/// | `P:worker:<id>` | hash | `name, pid, host, started, queues, concurrency, done, failed, last_heartbeat` |
/// | `P:heartbeat:<id>` | string | set with `PX` = the heartbeat TTL (5 s), refreshed every second |
/// | `P:processing:<id>:<slot>` | list | the messages a slot of worker `<id>` holds (its fetched batch) |
/// | `P:running:<id>` | string | the suspect message worker `<id>` runs alone right now (poison-pill counting) |
/// | `P:source:<id>:<slot>` | hash | message → the list it was fetched from, for started messages whose routing names another list |
/// | `P:delayed` | zset | score = due time in ms; member = `<list key> NUL <message bytes>` (ETA/countdown, retries) |
/// | `P:dead` | list | ``DeadLetter`` JSON records, oldest first |
///
/// Results go to Celery's `celery-task-meta-<id>` in the result backend, with `SET … EX result_expires` and a
/// `PUBLISH` on the channel of the same name, never over a stored `SUCCESS`.
///
/// ## Guarantees
/// - **Fetch** is a Lua script walking the lists in kombu's order (every queue at step 0, then step 3, …;
///   the queue order rotated after each delivery for fairness) and `LMOVE`-ing messages into the slot's
///   processing list; when everything is empty, a `BLMOVE` with a short timeout (0.1 s) waits on one step-0
///   list (the next in the rotation). A message is therefore always in a queue, in a processing list or in
///   the delayed set — never only in a process's memory.
/// - **Settlement** (ack, ETA delay, retry, dead letter, requeue) is one Lua script: the result is written
///   and published, and the message leaves the processing list, atomically. The worker's main loop uses the
///   `cycle` script, which settles every finished task of a slot's batch and fetches the next batch (up to
///   `--prefetch` messages, default 16) in one call; as soon as a task blocks (its handler suspends), the
///   finished ones are settled and the unstarted rest of the batch is pushed back to the head of its queues,
///   so a long task never holds other messages. When the result backend is another server or database, the
///   results are written there first and the messages removed second (at least once).
/// - **Recovery**: each slot returns what is left in its own processing list when it (re)connects, before
///   fetching (a `BLMOVE` abandoned by a dead connection may still have moved a message). Any live worker
///   checks `P:workers` every second; for an id whose heartbeat key has expired it returns every message in
///   that worker's processing lists to the list it was fetched from (recorded in `P:source:<id>:<slot>`; by its
///   routing when unrecorded), with `RPUSH` so it is served next, marked `redelivered` like kombu's restore and
///   charged one worker loss (`oauthq_worker_lost`, poison-pill counting; only the message named in
///   `P:running:<id>` when there is one), re-checking in the same script that the heartbeat is still absent,
///   then forgets the worker. With a 5 s TTL, in-flight messages of a dead worker are back in their queues
///   within ~6 s. Messages that do not decode, exceed the size cap, or whose list has become another type are
///   dead-lettered instead. See `docs/delivery.md`.
/// - **Delays**: due members of `P:delayed` are moved back by any worker every ~200 ms.
///
/// All JSON is built in Swift by `CeleryProtocol`; the scripts only move bytes.
public struct RedisBroker: Sendable {
    /// The key names under a prefix.
    public struct Keys: Sendable, Hashable {
        /// The prefix, e.g. `oauthq`.
        public let prefix: String

        public init(prefix: String) {
            self.prefix = prefix
        }

        /// `P:workers`.
        public var workers: String { prefix + ":workers" }
        /// `P:delayed`.
        public var delayed: String { prefix + ":delayed" }
        /// `P:dead`.
        public var dead: String { prefix + ":dead" }
        /// `P:worker:<id>`.
        public func worker(_ id: String) -> String { prefix + ":worker:" + id }
        /// `P:heartbeat:<id>`.
        public func heartbeat(_ id: String) -> String { prefix + ":heartbeat:" + id }
        /// `P:processing:<id>:<slot>`.
        public func processing(_ id: String, slot: Int) -> String { prefix + ":processing:" + id + ":" + String(slot) }
        /// `P:running:<id>`: the suspect message (one a worker died holding before) worker `<id>` is running now,
        /// if any: when that worker dies too, only this message is charged with the loss.
        public func running(_ id: String) -> String { prefix + ":running:" + id }
        /// `P:source:<id>:<slot>`: the list each message of that processing list was fetched from.
        public func source(_ id: String, slot: Int) -> String { prefix + ":source:" + id + ":" + String(slot) }
        /// The source hash of a processing list key (`P:processing:<id>:<slot>` → `P:source:<id>:<slot>`).
        public func source(ofProcessingList list: String) -> String {
            let head = prefix + ":processing:"
            guard list.hasPrefix(head) else { return prefix + ":source:?" }
            return prefix + ":source:" + list.dropFirst(head.count)
        }
    }

    /// The key names.
    public let keys: Keys
    /// This worker process's id (unique per process start).
    public let workerID: String
    /// How many slots (processing lists) this process has.
    public let concurrency: Int
    /// `result_expires` in seconds for stored results; 0 stores them without expiry.
    public var resultExpires: Int
    /// The heartbeat key's TTL. Must comfortably exceed the refresh interval.
    public var heartbeatTTL: Duration
    /// Messages larger than this are dead-lettered unread when recovered (``MessageLimits/maximumMessageBytes``).
    public var maximumMessageBytes: Int = MessageLimits().maximumMessageBytes

    /// - Parameters:
    ///   - keyPrefix: the prefix `P` of oauthq's keys.
    ///   - workerID: a unique id for this process (see ``makeWorkerID()``).
    ///   - concurrency: the number of slots.
    ///   - resultExpires: seconds results are kept (Celery's `result_expires`, 86400 by default).
    ///   - heartbeatTTL: the heartbeat key's TTL.
    public init(
        keyPrefix: String = "oauthq",
        workerID: String = RedisBroker.makeWorkerID(),
        concurrency: Int = 1,
        resultExpires: Int = 86_400,
        heartbeatTTL: Duration = .seconds(5)
    ) {
        self.keys = Keys(prefix: keyPrefix)
        self.workerID = workerID
        self.concurrency = max(1, concurrency)
        self.resultExpires = max(0, resultExpires)
        self.heartbeatTTL = heartbeatTTL
    }

    /// `<host>-<pid>-<8 hex>`: unique per process start.
    public static func makeWorkerID() -> String {
        let info = ProcessInfo.processInfo
        var host = info.hostName
        if let dot = host.firstIndex(of: ".") { host = String(host[..<dot]) }
        let random = String(UInt32.random(in: .min ... .max), radix: 16)
        return "\(host.isEmpty ? "localhost" : host)-\(info.processIdentifier)-\(random)"
    }

    /// This process's processing list for `slot`.
    public func processingKey(slot: Int) -> String {
        keys.processing(workerID, slot: slot)
    }

    /// This process's source hash for `slot`.
    public func sourceKey(slot: Int) -> String {
        keys.source(workerID, slot: slot)
    }
}

/// A message a slot took from a queue list; it sits in the slot's processing list until settled.
public struct RedisDelivery: Sendable, Hashable {
    /// The slot that holds it.
    public let slot: Int
    /// The list it came from (`Q` or `Q\x06\x16<step>`).
    public let listKey: String
    /// The bytes exactly as stored: the handle for removing it from the processing list.
    public let raw: [UInt8]

    public init(slot: Int, listKey: String, raw: [UInt8]) {
        self.slot = slot
        self.listKey = listKey
        self.raw = raw
    }

    /// The queue name of ``listKey``.
    public var queue: String { CeleryQueue.queueName(ofListKey: listKey) }
}

/// The UTF-8 bytes of `string`, for command arguments.
@inline(__always)
func utf8(_ string: String) -> [UInt8] {
    Array(string.utf8)
}
