internal import Crypto
public import Redis

/// A Lua script run with `EVALSHA`, falling back to `EVAL` (which also caches it on the server) when the
/// server answers `NOSCRIPT`: after a restart, a `SCRIPT FLUSH`, or on a server that never saw it.
///
/// The SHA-1 is computed locally, so no `SCRIPT LOAD` round trip is needed before the first call.
public struct RedisScript: Sendable, Hashable {
    /// A short name for logs and errors.
    public let name: String
    /// The Lua source.
    public let source: String
    /// The lowercase hex SHA-1 of ``source``: the `EVALSHA` handle.
    public let sha1: String

    public init(name: String, source: String) {
        self.name = name
        self.source = source
        let digest = Insecure.SHA1.hash(data: Array(source.utf8))
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in digest {
            text.append(hex[Int(byte >> 4)])
            text.append(hex[Int(byte & 0x0F)])
        }
        self.sha1 = String(decoding: text, as: UTF8.self)
    }

    /// Runs the script: one round trip (two after a `NOSCRIPT`), on the connection's own thread.
    /// - Throws: ``RedisError`` from the connection, or a server error raised by the script.
    public func run(on connection: isolated RedisConnection, keys: [[UInt8]], arguments: [[UInt8]]) throws -> RedisValue {
        let command = evalsha(keys: keys, arguments: arguments)
        do {
            return try connection.command(command)
        } catch let error as RedisError where error.serverPrefix == "NOSCRIPT" {
            return try connection.command(eval(command))
        }
    }

    /// `EVALSHA sha numkeys keys… arguments…`, e.g. for a pipeline.
    public func evalsha(keys: [[UInt8]], arguments: [[UInt8]]) -> [[UInt8]] {
        var command: [[UInt8]] = [Array("EVALSHA".utf8), Array(sha1.utf8), Array(String(keys.count).utf8)]
        command.reserveCapacity(3 + keys.count + arguments.count)
        command += keys
        command += arguments
        return command
    }

    /// The `EVAL` form of an ``evalsha(keys:arguments:)`` command (after `NOSCRIPT`).
    public func eval(_ evalshaCommand: [[UInt8]]) -> [[UInt8]] {
        var command = evalshaCommand
        command[0] = Array("EVAL".utf8)
        command[1] = Array(source.utf8)
        return command
    }

    /// Whether `reply` is the `NOSCRIPT` error.
    public static func isNoScript(_ reply: RedisValue) -> Bool {
        reply.errorMessage?.hasPrefix("NOSCRIPT") == true
    }
}

/// oauthq's Lua scripts. Every script only moves bytes it was given or read: JSON is built in Swift
/// (`CeleryProtocol`), never re-encoded in Lua (cjson turns `[]` into `{}`). cjson is used for one thing only,
/// reading `status` from a stored result.
enum BrokerScripts {
    /// KEYS[1] = the slot's processing list, KEYS[2] = the slot's source hash (unused here), KEYS[3…] = the queue
    /// lists in fetch order. Moves the oldest message (RIGHT) of the first non-empty list to the head of the
    /// processing list. Returns `{list, message}` or nil.
    static let fetch = RedisScript(
        name: "fetch",
        source: """
            -- oauthq fetch v3
            for i = 3, #KEYS do
              local message = redis.call('LMOVE', KEYS[i], KEYS[1], 'RIGHT', 'LEFT')
              if message then return {KEYS[i], message} end
            end
            return false
            """
    )

    /// Settles up to n deliveries, then fetches up to `limit` messages, in one script: the slot's main loop, and
    /// the only way a delivery is settled.
    /// KEYS[1] = processing list, KEYS[2] = the slot's source hash (message → the list it was fetched from, for
    /// the messages whose routing names another list; their entries are deleted as they are settled);
    /// KEYS[2i+1], KEYS[2i+2] = result key (any key when the result is empty) and target of settlement i (1…n:
    /// the delayed zset, the dead list or a queue list; any key for `ack`); then the queue lists in fetch order.
    /// ARGV[1] = n, ARGV[2] = limit, then ``SettlementArguments/count`` per settlement, laid out by
    /// ``SettlementArguments``: message, result JSON or '', TTL, action (`ack`, `delay`, `dead`, `push`),
    /// payload, score.
    ///
    /// Each message leaves the processing list (LREM from the tail). For every action but `ack`, nothing else
    /// happens when it was no longer there (a reaper already returned it to its queue: doing more would
    /// duplicate it). A target of the wrong type leaves the message in the processing list (``targetAccepts``).
    /// The result is written through ``storeUnlessSucceeded``. Each fetch walks the lists from the first
    /// (highest priority) again. Returns `{list, message, …}`.
    static let cycle = RedisScript(
        name: "cycle",
        source: """
            -- oauthq cycle v5
            \(storeUnlessSucceeded)
            \(targetAccepts)
            local n = tonumber(ARGV[1])
            local limit = tonumber(ARGV[2])
            local sources = redis.call('TYPE', KEYS[2])['ok'] == 'hash'
            for i = 1, n do
              local a = 3 + \(SettlementArguments.count) * (i - 1)
              \(SettlementArguments.luaLocals(base: "a"))
              local resultKey, target = KEYS[2 * i + 1], KEYS[2 * i + 2]
              if target_accepts(action, target) then
                local removed = redis.call('LREM', KEYS[1], -1, message)
                if removed > 0 and sources then redis.call('HDEL', KEYS[2], message) end
                if removed > 0 or action == 'ack' then
                  if result ~= '' then store_unless_succeeded(resultKey, result, ttl) end
                  if removed > 0 then
                    if action == 'delay' then
                      redis.call('ZADD', target, score, payload)
                    elseif action == 'dead' or action == 'push' then
                      redis.call('RPUSH', target, payload)
                    end
                  end
                end
              end
            end
            local fetched = {}
            local first = 2 * n + 3
            while #fetched < 2 * limit do
              local found = false
              for i = first, #KEYS do
                local message = redis.call('LMOVE', KEYS[i], KEYS[1], 'RIGHT', 'LEFT')
                if message then
                  fetched[#fetched + 1] = KEYS[i]
                  fetched[#fetched + 1] = message
                  found = true
                  break
                end
              end
              if not found then break end
            end
            return fetched
            """
    )

    /// The Lua function both result-writing scripts (`cycle`, `store-result`) start with, the one place the guard is written: SET (with EX when `ttl` > 0) and PUBLISH
    /// `value` at `key` unless a SUCCESS is stored there (Celery's guard against redelivered duplicates).
    /// Returns 1 when written, 0 when not.
    static let storeUnlessSucceeded = """
        local function store_unless_succeeded(key, value, ttl)
          local current = redis.call('GET', key)
          if current then
            local ok, stored = pcall(cjson.decode, current)
            if ok and type(stored) == 'table' and stored['status'] == 'SUCCESS' then return 0 end
          end
          local seconds = tonumber(ttl)
          if seconds and seconds > 0 then
            redis.call('SET', key, value, 'EX', seconds)
          else
            redis.call('SET', key, value)
          end
          redis.call('PUBLISH', key, value)
          return 1
        end
        """

    /// Writes a result unless a SUCCESS is stored: for a result backend that is not the broker's database.
    /// KEYS[1] = result key; ARGV[1] = JSON, ARGV[2] = TTL seconds (0: none). Returns 1 when written.
    static let storeResult = RedisScript(
        name: "store-result",
        source: """
            -- oauthq store-result v2
            \(storeUnlessSucceeded)
            return store_unless_succeeded(KEYS[1], ARGV[1], ARGV[2])
            """
    )

    /// Moves due delayed messages back to their lists.
    /// KEYS[1] = delayed zset, KEYS[2] = dead list; ARGV[1] = now (ms), ARGV[2] = limit.
    /// A member is `<list key> NUL <message>`. Members are RPUSHed latest-due first, so the earliest-due one
    /// ends at the consuming end and is served first. A member without NUL (never written by oauthq) goes to
    /// the dead list as is, and so does one whose list has become a key of another type. Returns the number moved.
    static let promote = RedisScript(
        name: "promote",
        source: """
            -- oauthq promote v2
            \(isListOrAbsent)
            local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
            for i = #due, 1, -1 do
              local member = due[i]
              local separator = string.find(member, '\\0', 1, true)
              local target = separator and string.sub(member, 1, separator - 1)
              if target and is_list_or_absent(target) then
                redis.call('RPUSH', target, string.sub(member, separator + 1))
              else
                redis.call('RPUSH', KEYS[2], member)
              end
              redis.call('ZREM', KEYS[1], member)
            end
            return #due
            """
    )

    /// Returns messages from a processing list to their queues.
    /// KEYS[1] = the owner's heartbeat key, KEYS[2] = the processing list, KEYS[3] = the dead list, KEYS[4] = the
    /// list's source hash (the entry of each message moved is deleted).
    /// ARGV[1] = '1' to act only while the heartbeat is absent (reaping another worker), '0' for the
    /// caller's own list; then quadruples (message as stored, target list, message to RPUSH, dead-letter record).
    /// The target's type is checked before the message is removed: when it is not a list (or absent), the record
    /// goes to the dead list instead; when the dead list is not a list either, the message stays where it is.
    /// Returns the number moved, or -1 when the heartbeat came back.
    static let restore = RedisScript(
        name: "restore",
        source: """
            -- oauthq restore v3
            \(isListOrAbsent)
            if ARGV[1] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
            local sources = redis.call('TYPE', KEYS[4])['ok'] == 'hash'
            local moved = 0
            for i = 2, #ARGV, 4 do
              local target, payload = ARGV[i + 1], ARGV[i + 2]
              if not is_list_or_absent(target) then target, payload = KEYS[3], ARGV[i + 3] end
              if is_list_or_absent(target) and redis.call('LREM', KEYS[2], 1, ARGV[i]) > 0 then
                if sources then redis.call('HDEL', KEYS[4], ARGV[i]) end
                redis.call('RPUSH', target, payload)
                moved = moved + 1
              end
            end
            return moved
            """
    )

    /// The Lua function `cycle` checks first for each settlement: whether `action`'s target key has a type it can take
    /// (`delay`: a zset or absent; `dead`, `push`: a list or absent; `ack`: any). When it cannot, the message is
    /// left in the processing list (to be returned by recovery) rather than removed and then lost to a
    /// `WRONGTYPE` error.
    static let targetAccepts = """
        local function target_accepts(action, key)
          if action == 'ack' then return true end
          local kind = redis.call('TYPE', key)['ok']
          if kind == 'none' then return true end
          if action == 'delay' then return kind == 'zset' end
          return kind == 'list'
        end
        """

    /// The Lua function the scripts that push to a list another process may have written check first: whether
    /// `key` is a list or absent (a key of another type would make `RPUSH` fail after the message was removed).
    static let isListOrAbsent = """
        local function is_list_or_absent(key)
          local kind = redis.call('TYPE', key)['ok']
          return kind == 'list' or kind == 'none'
        end
        """

    /// Forgets a worker whose heartbeat is gone and whose processing lists are empty.
    /// KEYS[1] = heartbeat, KEYS[2] = the workers set, KEYS[3] = the worker hash, KEYS[4…3+m] = its processing
    /// lists, then their source hashes; ARGV[1] = the worker id, ARGV[2] = m. Returns 1 when forgotten, 0 when it
    /// is alive or still holds messages.
    static let forget = RedisScript(
        name: "forget",
        source: """
            -- oauthq forget v2
            if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
            local lists = tonumber(ARGV[2])
            for i = 4, 3 + lists do
              if redis.call('TYPE', KEYS[i])['ok'] == 'list' and redis.call('LLEN', KEYS[i]) > 0 then return 0 end
            end
            redis.call('SREM', KEYS[2], ARGV[1])
            redis.call('DEL', KEYS[3])
            for i = 4, #KEYS do redis.call('DEL', KEYS[i]) end
            return 1
            """
    )

    /// Bounds the dead-letter list: drops the oldest records beyond a count, then records older than a cutoff.
    /// KEYS[1] = the dead list; ARGV[1] = the maximum count (0: no count limit), ARGV[2] = the cutoff time as
    /// the records write it (ISO-8601 UTC with microseconds, which sorts as text; '' for no age limit),
    /// ARGV[3] = the most records dropped by age in one call. Records are appended in time order, so the oldest
    /// is at the head. A head that does not decode is dropped as if old. Returns the number dropped.
    static let trimDead = RedisScript(
        name: "trim-dead",
        source: """
            -- oauthq trim-dead v1
            if redis.call('TYPE', KEYS[1])['ok'] ~= 'list' then return 0 end
            local dropped = 0
            local limit = tonumber(ARGV[1])
            local length = redis.call('LLEN', KEYS[1])
            if limit and limit > 0 and length > limit then
              redis.call('LTRIM', KEYS[1], length - limit, -1)
              dropped = length - limit
            end
            if ARGV[2] ~= '' then
              for i = 1, tonumber(ARGV[3]) do
                local head = redis.call('LINDEX', KEYS[1], 0)
                if not head then break end
                local ok, record = pcall(cjson.decode, head)
                local time = ok and type(record) == 'table' and record['time'] or nil
                if type(time) == 'string' and time >= ARGV[2] then break end
                redis.call('LPOP', KEYS[1])
                dropped = dropped + 1
              end
            end
            return dropped
            """
    )

    static let all: [RedisScript] = [fetch, cycle, storeResult, promote, restore, forget, trimDead]
}
