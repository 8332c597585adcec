public import Redis

/// The leader lock: `SET <prefix>:beat:lock <token> NX PX <ttl>` to take it, a token-checked `PEXPIRE` (Lua) to
/// renew it, a token-checked `DEL` (Lua) to give it up. A beat whose renewal finds another token has lost it and
/// must stop sending at once (RedBeat's unchecked extend was redbeat#127).
public struct BeatLock: Sendable {
    /// The lock key.
    public let key: String
    /// This process's random token.
    public let token: String
    /// How long the lock lives without renewal, in milliseconds.
    public let ttlMilliseconds: Int64

    public init(key: String, token: String, ttlMilliseconds: Int64) {
        self.key = key
        self.token = token
        self.ttlMilliseconds = ttlMilliseconds
    }

    static let renewScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          return redis.call('PEXPIRE', KEYS[1], ARGV[2])
        end
        return 0
        """

    static let releaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          return redis.call('DEL', KEYS[1])
        end
        return 0
        """

    /// Takes the lock if it is free, or renews it if this token already holds it (e.g. after a reconnect).
    /// - Returns: true when this process holds the lock afterwards.
    public func acquire(on connection: RedisConnection) async throws -> Bool {
        let reply = try await connection.command([
            Array("SET".utf8), Array(key.utf8), Array(token.utf8), Array("NX".utf8), Array("PX".utf8),
            Array(String(ttlMilliseconds).utf8),
        ])
        if !reply.isNull { return true }
        return try await renew(on: connection)
    }

    /// Extends the lock to the full TTL if this token holds it.
    /// - Returns: false when the lock is gone or held by another token.
    public func renew(on connection: RedisConnection) async throws -> Bool {
        let reply = try await connection.command([
            Array("EVAL".utf8), Array(Self.renewScript.utf8), Array("1".utf8), Array(key.utf8), Array(token.utf8),
            Array(String(ttlMilliseconds).utf8),
        ])
        return reply.int == 1
    }

    /// Deletes the lock if this token holds it, so a standby can take over at its next try.
    public func release(on connection: RedisConnection) async throws {
        _ = try await connection.command([
            Array("EVAL".utf8), Array(Self.releaseScript.utf8), Array("1".utf8), Array(key.utf8), Array(token.utf8),
        ])
    }
}
