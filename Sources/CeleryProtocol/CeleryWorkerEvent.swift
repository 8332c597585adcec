public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A Celery worker event (`worker-online`, `worker-heartbeat`, `worker-offline`) as a Celery 5.7 worker
/// publishes it over Redis: `PUBLISH /<db>.celeryev/worker.<kind>` with a kombu envelope whose body is
/// `{hostname, utcoffset, pid, clock, freq, active, processed, loadavg, sw_ident, sw_ver, sw_sys, timestamp, type}`
/// (observed from `celery worker`, in that key order), header `{hostname}` and `delivery_mode` 1.
public struct CeleryWorkerEvent: Sendable {
    /// Which event.
    public enum Kind: String, Sendable {
        case online, heartbeat, offline
    }

    public var kind: Kind
    /// The node name (`oauthq@host`).
    public var hostname: String
    public var pid: Int32
    /// The sender's Lamport clock.
    public var clock: Int64
    /// Seconds between heartbeats (Celery: 2.0); monitors expire a worker after about twice this.
    public var frequency: Double
    /// Tasks running now.
    public var active: Int
    /// Tasks finished so far.
    public var processed: Int
    /// The 1, 5 and 15 minute load averages.
    public var loadAverage: [Double]
    /// When the event was made.
    public var timestamp: Date
    /// Hours west of UTC (see ``utcOffsetHours(_:at:)``).
    public var utcOffset: Double
    /// The software: `oauthq` and its version (Celery sends `py-celery` and its own).
    public var softwareIdentity: String
    public var softwareVersion: String
    public var softwareSystem: String

    public init(
        kind: Kind, hostname: String, pid: Int32, clock: Int64, frequency: Double = 2.0, active: Int, processed: Int,
        loadAverage: [Double], timestamp: Date = Date(), utcOffset: Double = CeleryWorkerEvent.utcOffsetHours(), softwareIdentity: String = "oauthq",
        softwareVersion: String, softwareSystem: String = "Linux"
    ) {
        self.kind = kind
        self.hostname = hostname
        self.pid = pid
        self.clock = clock
        self.frequency = frequency
        self.active = active
        self.processed = processed
        self.loadAverage = loadAverage
        self.timestamp = timestamp
        self.utcOffset = utcOffset
        self.softwareIdentity = softwareIdentity
        self.softwareVersion = softwareVersion
        self.softwareSystem = softwareSystem
    }

    /// The event `type` field: `worker-heartbeat`, ….
    public var type: String { "worker-" + kind.rawValue }

    /// The routing key: `worker.heartbeat`, ….
    public var routingKey: String { "worker." + kind.rawValue }

    /// The pub/sub channel for a broker database: `/<db>.celeryev/worker.<kind>` (kombu's fanout prefix; Redis
    /// pub/sub is not scoped by database, the prefix is).
    public func channel(database: Int) -> String {
        "/\(database).celeryev/" + routingKey
    }

    /// Hours *west* of UTC, as Celery's `utcoffset()` (0.0 in UTC), for the local zone at `date`.
    public static func utcOffsetHours(at date: Date = Date()) -> Double {
        utcOffsetHours(secondsEastOfUTC: localSecondsEastOfUTC(at: date))
    }

    /// Hours *west* of UTC for an offset in seconds east of it.
    public static func utcOffsetHours(secondsEastOfUTC seconds: Int) -> Double {
        -Double(seconds) / 3600
    }

    /// The local zone's offset from the C library (`localtime_r`), not `TimeZone.current`: Foundation's
    /// time zones map ICU data, which cost the worker megabytes of resident memory for one number.
    public static func localSecondsEastOfUTC(at date: Date = Date()) -> Int {
        var time = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        guard localtime_r(&time, &parts) != nil else { return 0 }
        return Int(parts.tm_gmtoff)
    }

    /// The event body.
    public var body: JSONValue {
        let object: JSONObject = [
            "hostname": .string(hostname),
            "utcoffset": .double(utcOffset),
            "pid": .int(Int64(pid)),
            "clock": .int(clock),
            "freq": .double(frequency),
            "active": .int(Int64(active)),
            "processed": .int(Int64(processed)),
            "loadavg": .array(loadAverage.map { .double(($0 * 100).rounded() / 100) }),
            "sw_ident": .string(softwareIdentity),
            "sw_ver": .string(softwareVersion),
            "sw_sys": .string(softwareSystem),
            "timestamp": .double(timestamp.timeIntervalSince1970),
            "type": .string(type),
        ]
        return .object(object)
    }

    /// The whole message: the body in a kombu envelope on exchange `celeryev`, header `{hostname}`.
    public func envelope(deliveryTag: String = CeleryMessage.newID()) -> KombuEnvelope {
        KombuEnvelope(
            body: body, headers: ["hostname": .string(hostname)], exchange: "celeryev", routingKey: routingKey,
            deliveryMode: 1, deliveryTag: deliveryTag
        )
    }
}
