public import Foundation

/// A Celery task event (`task-received`, `task-started`, `task-succeeded`, `task-failed`, `task-retried`,
/// `task-revoked`, `task-rejected`) as a Celery 5.7 worker started with `-E` publishes it over Redis:
/// `PUBLISH /<db>.celeryev/task.<kind>` with a kombu envelope on exchange `celeryev`, header `{hostname}`,
/// and a body of the common fields `{hostname, utcoffset, pid, clock, uuid, timestamp, type}` plus the
/// kind's own (see the ``received(uuid:name:args:kwargs:retries:eta:expires:rootID:parentID:)`` family).
/// The shapes are checked against a real worker's events in `Tests/CeleryProtocolTests/captures/celery-5.7-events.json`.
public struct CeleryTaskEvent: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case received, started, succeeded, failed, retried, revoked, rejected
    }

    public var kind: Kind
    public var uuid: String
    /// The kind's own fields, in Celery's order.
    public var fields: JSONObject

    public init(kind: Kind, uuid: String, fields: JSONObject = [:]) {
        self.kind = kind
        self.uuid = uuid
        self.fields = fields
    }

    /// `task-received`: `name`, `args`/`kwargs` as repr strings, `root_id`, `parent_id`, `retries`, `eta`,
    /// `expires` (ISO 8601 strings or null).
    public static func received(
        uuid: String, name: String, args: String, kwargs: String, retries: Int, eta: Date?, expires: Date?, rootID: String?,
        parentID: String?
    ) -> CeleryTaskEvent {
        CeleryTaskEvent(
            kind: .received, uuid: uuid,
            fields: [
                "name": .string(name), "args": .string(args), "kwargs": .string(kwargs),
                "root_id": rootID.map(JSONValue.string) ?? .null, "parent_id": parentID.map(JSONValue.string) ?? .null,
                "retries": .int(Int64(retries)),
                "eta": eta.map { .string(CeleryTimestamp.format($0)) } ?? .null,
                "expires": expires.map { .string(CeleryTimestamp.format($0)) } ?? .null,
            ]
        )
    }

    /// `task-started`: no fields of its own.
    public static func started(uuid: String) -> CeleryTaskEvent {
        CeleryTaskEvent(kind: .started, uuid: uuid)
    }

    /// `task-succeeded`: `result` (the return value's repr) and `runtime` in seconds.
    public static func succeeded(uuid: String, result: String, runtime: Double) -> CeleryTaskEvent {
        CeleryTaskEvent(kind: .succeeded, uuid: uuid, fields: ["result": .string(result), "runtime": .double(runtime)])
    }

    /// `task-failed`: `exception` (`Type('message')`) and `traceback`.
    public static func failed(uuid: String, exception: String, traceback: String) -> CeleryTaskEvent {
        CeleryTaskEvent(kind: .failed, uuid: uuid, fields: ["exception": .string(exception), "traceback": .string(traceback)])
    }

    /// `task-retried`: `exception` and `traceback`, like `task-failed`.
    public static func retried(uuid: String, exception: String, traceback: String) -> CeleryTaskEvent {
        CeleryTaskEvent(kind: .retried, uuid: uuid, fields: ["exception": .string(exception), "traceback": .string(traceback)])
    }

    /// `task-revoked`: `terminated`, `signum` (null unless terminated; oauthq cancels, it sends no signal: 15 as
    /// Celery's default `TERM` would), `expired`.
    public static func revoked(uuid: String, terminated: Bool, expired: Bool) -> CeleryTaskEvent {
        CeleryTaskEvent(
            kind: .revoked, uuid: uuid,
            fields: ["terminated": .bool(terminated), "signum": terminated ? .int(15) : .null, "expired": .bool(expired)]
        )
    }

    /// `task-rejected`: `requeue`.
    public static func rejected(uuid: String, requeue: Bool) -> CeleryTaskEvent {
        CeleryTaskEvent(kind: .rejected, uuid: uuid, fields: ["requeue": .bool(requeue)])
    }

    /// The event `type`: `task-received`, ….
    public var type: String { "task-" + kind.rawValue }

    /// The routing key: `task.received`, ….
    public var routingKey: String { "task." + kind.rawValue }

    /// The pub/sub channel for a broker database: `/<db>.celeryev/task.<kind>`.
    public func channel(database: Int) -> String {
        "/\(database).celeryev/" + routingKey
    }

    /// The event body as the sender `hostname` (process `pid`, Lamport `clock`) sends it at `timestamp`.
    public func body(hostname: String, pid: Int32, clock: Int64, timestamp: Date, utcOffset: Double) -> JSONValue {
        var object: JSONObject = [
            "hostname": .string(hostname), "utcoffset": .double(utcOffset), "pid": .int(Int64(pid)), "clock": .int(clock),
            "uuid": .string(uuid),
        ]
        for (key, value) in fields { object[key] = value }
        object["timestamp"] = .double(timestamp.timeIntervalSince1970)
        object["type"] = .string(type)
        return .object(object)
    }

    /// The whole message: the body in a kombu envelope on exchange `celeryev`, header `{hostname}`.
    public func envelope(
        hostname: String, pid: Int32, clock: Int64, timestamp: Date = Date(), utcOffset: Double = CeleryWorkerEvent.utcOffsetHours(),
        deliveryTag: String = CeleryMessage.newID()
    ) -> KombuEnvelope {
        KombuEnvelope(
            body: body(hostname: hostname, pid: pid, clock: clock, timestamp: timestamp, utcOffset: utcOffset),
            headers: ["hostname": .string(hostname)], exchange: "celeryev", routingKey: routingKey, deliveryMode: 1,
            deliveryTag: deliveryTag
        )
    }
}
