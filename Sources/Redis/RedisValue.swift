/// A reply from Redis, copied out of hiredis' `redisReply` into owned Swift memory.
///
/// Error replies are values here (``error(_:)``) because they can sit inside arrays (the reply to
/// `EXEC`, or a pipeline). ``RedisConnection/command(_:)-([[UInt8]])`` throws for a top-level error
/// reply instead of returning it.
public enum RedisValue: Sendable, Hashable {
    /// A simple string reply (`+OK`, `+PONG`, `+QUEUED`).
    case status(String)
    /// An error reply (`-ERR …`, `-WRONGTYPE …`), the whole line without the leading `-`.
    case error(String)
    /// An integer reply (`:42`).
    case integer(Int64)
    /// A bulk string reply, byte for byte (binary-safe).
    case bulk([UInt8])
    /// A nil bulk string or nil array (`$-1`, `*-1`): e.g. `GET` of a missing key, a timed-out `BLPOP`.
    case null
    /// An array reply; elements may be of any kind, arrays included.
    indirect case array([RedisValue])
}

extension RedisValue {
    /// The text of a bulk string (decoded as UTF-8, invalid bytes replaced by U+FFFD) or of a status
    /// reply; nil for every other kind.
    public var string: String? {
        switch self {
        case .bulk(let bytes): String(decoding: bytes, as: UTF8.self)
        case .status(let text): text
        default: nil
        }
    }

    /// The bytes of a bulk string, or the UTF-8 of a status reply; nil for every other kind.
    public var bytes: [UInt8]? {
        switch self {
        case .bulk(let bytes): bytes
        case .status(let text): Array(text.utf8)
        default: nil
        }
    }

    /// An integer reply, or a bulk string holding a decimal integer (as `GET` of a counter returns);
    /// nil otherwise.
    public var int: Int64? {
        switch self {
        case .integer(let value): value
        case .bulk(let bytes): Int64(String(decoding: bytes, as: UTF8.self))
        default: nil
        }
    }

    /// The elements of an array reply; nil for every other kind (including ``null``).
    public var array: [RedisValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// True for ``null``.
    public var isNull: Bool {
        self == .null
    }

    /// The message of an error reply; nil for every other kind.
    public var errorMessage: String? {
        if case .error(let message) = self { return message }
        return nil
    }
}

extension RedisValue: CustomStringConvertible {
    /// A short rendering for debugging. Bulk strings show only their length: they hold job payloads
    /// and tokens, which must not reach logs.
    public var description: String {
        switch self {
        case .status(let text): "status(\(text))"
        case .error(let text): "error(\(RedisError.redactServerMessage(text)))"
        case .integer(let value): "integer(\(value))"
        case .bulk(let bytes): "bulk(\(bytes.count) bytes)"
        case .null: "null"
        case .array(let elements): "array[\(elements.map(\.description).joined(separator: ", "))]"
        }
    }
}
