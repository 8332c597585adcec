public import Foundation
public import Redis
import Synchronization

/// Revoked task ids shared by every worker, present and future, and kept across restarts (Celery keeps them in
/// each worker's memory only, so a revoke sent while workers restart is lost).
///
/// In Redis: `P:revoked`, a sorted set of task ids scored by the time (ms since 1970) each revoke expires, and
/// `P:revoked:version`, a token replaced by every change. Each worker keeps a copy in memory: loaded before its
/// slots start, reloaded when the token changes (checked by the maintenance loop every ~200 ms), and updated at
/// once by a `revoke` broadcast. A slot only asks the copy, so the check costs no round trip.
public final class RevokedSet: Sendable {
    /// Celery's revoke has no lifetime; oauthq's default is one day.
    public static let defaultTTL: Duration = .seconds(86_400)
    /// The longest task id kept (Celery's are 36-character UUIDs); longer ones are refused.
    public static let maximumIDBytes = 256
    /// The most ids one request revokes.
    public static let maximumIDsPerRequest = 10_000
    /// The most entries a worker loads (the soonest to expire are dropped first when there are more).
    public static let maximumEntries = 200_000

    /// The keys under the prefix.
    public let key: String
    public let versionKey: String

    private struct Copy {
        var expiries: [String: Int64] = [:]
        var version: String?
    }

    private let copy = Mutex(Copy())

    public init(keyPrefix: String) {
        key = keyPrefix + ":revoked"
        versionKey = keyPrefix + ":revoked:version"
    }

    /// Whether `id` is revoked (and the revoke not expired) at `now`.
    public func contains(_ id: String, now: Date = Date()) -> Bool {
        let nowMilliseconds = Self.milliseconds(now)
        return copy.withLock { ($0.expiries[id] ?? .min) > nowMilliseconds }
    }

    /// The revoked ids not expired at `now`, sorted (for `inspect revoked`).
    public func ids(now: Date = Date()) -> [String] {
        let nowMilliseconds = Self.milliseconds(now)
        return copy.withLock { $0.expiries.filter { $0.value > nowMilliseconds }.map(\.key) }.sorted()
    }

    /// Adds ids to the local copy only (a broadcast seen before Redis is read again).
    public func insertLocally(_ ids: [String], until expiry: Date) {
        let milliseconds = Self.milliseconds(expiry)
        copy.withLock { copy in
            for id in ids { copy.expiries[id] = max(copy.expiries[id] ?? .min, milliseconds) }
        }
    }

    /// The ids of a request that can be kept: non-empty, at most ``maximumIDBytes`` bytes, at most
    /// ``maximumIDsPerRequest`` of them, without duplicates (order kept).
    public static func acceptable(_ ids: [String]) -> [String] {
        var seen = Set<String>()
        var kept: [String] = []
        for id in ids.prefix(maximumIDsPerRequest) where !id.isEmpty && id.utf8.count <= maximumIDBytes {
            if seen.insert(id).inserted { kept.append(id) }
        }
        return kept
    }

    /// Writes revokes to Redis (`ZADD GT`, so a longer revoke is never shortened), drops the expired entries and
    /// bumps the version, in one pipeline. Usable without a worker (`oauthq revoke`).
    public func add(_ ids: [String], ttl: Duration, on connection: isolated RedisConnection, now: Date = Date()) throws {
        let ids = Self.acceptable(ids)
        guard !ids.isEmpty else { return }
        let expiry = Self.milliseconds(now) &+ Self.milliseconds(ttl)
        var zadd: [[UInt8]] = [Array("ZADD".utf8), Array(key.utf8), Array("GT".utf8)]
        for id in ids {
            zadd.append(Array(String(expiry).utf8))
            zadd.append(Array(id.utf8))
        }
        let replies = try connection.pipeline([
            zadd,
            [Array("ZREMRANGEBYSCORE".utf8), Array(key.utf8), Array("-inf".utf8), Array(String(Self.milliseconds(now)).utf8)],
            // A fresh token, not INCR: whatever the key held before (even a non-number), the change is seen.
            [Array("SET".utf8), Array(versionKey.utf8), Array(UUID().uuidString.utf8)],
        ])
        if let message = replies.compactMap(\.errorMessage).first { throw RedisError(.server, "revoke: \(message)") }
        insertLocally(ids, until: Date(timeIntervalSince1970: Double(expiry) / 1000))
    }

    /// Reloads the copy when the version token changed (or on the first call). Returns whether it reloaded.
    /// Throws only for a lost connection; an unreadable key leaves the copy as it was.
    @discardableResult
    public func refresh(on connection: isolated RedisConnection, now: Date = Date()) throws -> Bool {
        let versionReply: RedisValue
        do {
            versionReply = try connection.command([Array("GET".utf8), Array(versionKey.utf8)])
        } catch let error as RedisError where error.code == .server {
            return false
        }
        let version = versionReply.string.map { String($0.prefix(64)) } ?? ""
        if copy.withLock({ $0.version == version }) { return false }
        let reply: RedisValue
        do {
            reply = try connection.command([
                Array("ZRANGE".utf8), Array(key.utf8), Array("+inf".utf8), Array(String(Self.milliseconds(now)).utf8),
                Array("BYSCORE".utf8), Array("REV".utf8), Array("LIMIT".utf8), Array("0".utf8), Array(String(Self.maximumEntries).utf8),
                Array("WITHSCORES".utf8),
            ])
        } catch let error as RedisError where error.code == .server {
            // A key of the wrong type (written by hand): keep the copy; a worker must not stop over it.
            return false
        }
        if reply.errorMessage != nil { return false }
        let items = reply.array ?? []
        var expiries: [String: Int64] = [:]
        var index = 0
        while index + 1 < items.count {
            if let id = items[index].string, id.utf8.count <= Self.maximumIDBytes,
                let score = items[index + 1].string.flatMap({ Double($0.prefix(32)) }), !score.isNaN
            {
                expiries[id] = Self.clampedMilliseconds(score)
            }
            index += 2
        }
        copy.withLock { copy in
            // Keep local inserts Redis has not shown yet only when they are newer than what Redis holds.
            for (id, expiry) in copy.expiries where expiries[id] == nil && expiry > Self.milliseconds(now) {
                expiries[id] = expiry
            }
            copy.expiries = expiries
            copy.version = version
        }
        return true
    }

    static func milliseconds(_ date: Date) -> Int64 {
        clampedMilliseconds(date.timeIntervalSince1970 * 1000)
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return seconds < 0 ? 0 : Int64.max / 4 }
        return min(max(0, product &+ attoseconds / 1_000_000_000_000_000), Int64.max / 4)
    }

    /// A score read back from Redis, clamped into a safe range (no trap on a hostile value).
    static func clampedMilliseconds(_ value: Double) -> Int64 {
        guard value.isFinite else { return value > 0 ? Int64.max / 4 : 0 }
        return Int64(min(max(value, 0), Double(Int64.max / 4)))
    }
}
