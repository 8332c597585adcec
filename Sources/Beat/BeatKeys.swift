import Crypto
import Foundation

/// The Redis keys beat uses, all under one prefix (default `oauthq`, the worker's):
///
/// | key | type | content |
/// |---|---|---|
/// | `<prefix>:beat:lock` | string, PX ttl | the leader's random token |
/// | `<prefix>:beat:last:<entry>` | string | unix seconds of the entry's last scheduled tick that was sent |
/// | `<prefix>:beat:tick:<entry>:<unix>` | string `1`, EX 1 day | the tick was sent (the at-most-once guard) |
public struct BeatKeys: Sendable, Hashable {
    /// The key prefix.
    public let prefix: String

    public init(prefix: String) {
        self.prefix = prefix
    }

    /// `<prefix>:beat:lock`.
    public var lock: String { "\(prefix):beat:lock" }

    /// `<prefix>:beat:last:<entry>`.
    public func last(entry: String) -> String { "\(prefix):beat:last:\(entry)" }

    /// `<prefix>:beat:tick:<entry>:<unix>`.
    public func tick(entry: String, scheduled: Int64) -> String { "\(prefix):beat:tick:\(entry):\(scheduled)" }

    /// The task id of an entry's tick: a UUIDv5 (SHA-1, RFC 9562 §5.5) in ``namespace`` of the name
    /// `<prefix>:<entry>:<unix>`, so every beat derives the same id for the same tick. In Python:
    /// `uuid.uuid5(uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8"), "oauthq:cleartokens:1764471600")`.
    public func taskID(entry: String, scheduled: Int64) -> String {
        Self.uuid5(namespace: Self.namespace, name: "\(prefix):\(entry):\(scheduled)")
    }

    /// RFC 9562's URL namespace (`6ba7b811-9dad-11d1-80b4-00c04fd430c8`).
    public static let namespace: [UInt8] = [
        0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8,
    ]

    /// A lowercase UUIDv5 string, as Python's `str(uuid.uuid5(namespace, name))`.
    public static func uuid5(namespace: [UInt8], name: String) -> String {
        var sha = Insecure.SHA1()
        sha.update(data: namespace)
        sha.update(data: Array(name.utf8))
        var bytes = Array(sha.finalize().prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        let h = Array(hex)
        return String(h[0..<8]) + "-" + String(h[8..<12]) + "-" + String(h[12..<16]) + "-" + String(h[16..<20]) + "-"
            + String(h[20..<32])
    }
}
