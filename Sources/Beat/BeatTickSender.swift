public import Foundation
public import CeleryProtocol
import CeleryRedis
public import Redis

/// Sends one scheduled tick at most once, whoever asks and however often.
///
/// One Lua script does it all atomically: check that the caller still holds the leader lock (fencing), then
/// `SET <prefix>:beat:tick:<entry>:<unix> 1 NX EX <ttl>`; only if that succeeds, `SADD` the kombu binding and
/// `LPUSH` the message. Either way `<prefix>:beat:last:<entry>` moves forward to the tick (never back). The task id
/// is derived from the entry and the tick (``BeatKeys/taskID(entry:scheduled:)``), so two beats in a split brain
/// build the same message and the guard lets exactly one through.
public struct BeatTickSender: Sendable {
    /// What happened to a tick.
    public enum Outcome: Sendable, Hashable {
        /// This call enqueued the message.
        case sent
        /// The tick's guard was already set: another beat (or an earlier call) sent it.
        case alreadySent
        /// The caller's token no longer holds the lock: nothing was written.
        case notLeader
    }

    public let keys: BeatKeys
    /// Lifetime of a tick guard, in seconds (default one day).
    public let guardSeconds: Int64

    public init(keys: BeatKeys, guardSeconds: Int64 = 86_400) {
        self.keys = keys
        self.guardSeconds = guardSeconds
    }

    static let script = """
        if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then
          return -1
        end
        local sent = 0
        if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then
          redis.call('SADD', KEYS[5], ARGV[5])
          redis.call('LPUSH', KEYS[4], ARGV[4])
          sent = 1
        end
        local last = redis.call('GET', KEYS[3])
        if (not last) or (tonumber(last) == nil) or (tonumber(ARGV[3]) > tonumber(last)) then
          redis.call('SET', KEYS[3], ARGV[3])
        end
        return sent
        """

    /// The message beat sends for `entry`'s tick at `scheduled`: Celery protocol v2 with the derived task id,
    /// `headers.celery_beat_task: true`, and `expires` = `now` + the entry's expiry when it has one.
    public func message(for entry: BeatEntry, scheduled: Int64, now: Date = Date()) -> CeleryMessage {
        CeleryMessage.make(
            taskName: entry.task,
            id: keys.taskID(entry: entry.name, scheduled: scheduled),
            args: entry.args,
            kwargs: entry.kwargs,
            queue: entry.queue,
            priority: entry.priority,
            expires: entry.expiresSeconds.map { now.addingTimeInterval(TimeInterval($0)) },
            now: now,
            extraHeaders: ["celery_beat_task": true]
        )
    }

    /// Sends `entry`'s tick at `scheduled` unless it was sent already.
    /// - Parameter lockToken: the caller's leader token; nil skips the fencing check (tests of the guard alone).
    /// - Throws: ``RedisError`` when Redis fails.
    public func send(
        _ entry: BeatEntry, scheduled: Int64, lockToken: String?, on connection: RedisConnection, now: Date = Date()
    ) async throws -> (Outcome, CeleryMessage) {
        let message = message(for: entry, scheduled: scheduled, now: now)
        let keyList = [
            keys.lock, keys.tick(entry: entry.name, scheduled: scheduled), keys.last(entry: entry.name),
            CeleryQueue.listKey(queue: entry.queue, priority: entry.priority), TaskPublisher.bindingKey(queue: entry.queue),
        ]
        var arguments: [[UInt8]] = [Array("EVAL".utf8), Array(Self.script.utf8), Array(String(keyList.count).utf8)]
        arguments += keyList.map { Array($0.utf8) }
        arguments += [
            Array((lockToken ?? "").utf8), Array(String(guardSeconds).utf8), Array(String(scheduled).utf8), message.raw,
            Array(TaskPublisher.bindingMember(queue: entry.queue).utf8),
        ]
        let reply = try await connection.command(arguments)
        switch reply.int {
        case 1: return (.sent, message)
        case 0: return (.alreadySent, message)
        default: return (.notLeader, message)
        }
    }

    /// The last tick sent for `entry`, from `<prefix>:beat:last:<entry>`.
    public func lastSent(_ entry: BeatEntry, on connection: RedisConnection) async throws -> Int64? {
        let reply = try await connection.command([Array("GET".utf8), Array(keys.last(entry: entry.name).utf8)])
        return Self.plausibleTick(reply.int)
    }

    /// The latest tick beat accepts from its own key: unix seconds up to the end of year 9999.
    static let latestTick: Int64 = 253_402_300_799

    /// A stored tick read back from Redis (another process may have written anything): a value outside
    /// `0...latestTick` is treated as "never sent", so schedule arithmetic on it cannot overflow.
    static func plausibleTick(_ value: Int64?) -> Int64? {
        guard let value, (0...latestTick).contains(value) else { return nil }
        return value
    }
}
