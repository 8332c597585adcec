public import Foundation

/// One task as Celery's `inspect active|reserved|scheduled|query_task` describe it (Celery's `Request.info()`):
/// `{id, name, args, kwargs, type, hostname, time_start, acknowledged, delivery_info, worker_pid}`.
public struct InspectTask: Sendable, Hashable {
    public var id: String
    public var name: String
    /// The arguments, with secret-looking keyword arguments masked (see ``masked(_:)``).
    public var args: [JSONValue]
    public var kwargs: JSONObject
    public var exchange: String
    public var routingKey: String
    public var priority: Int
    public var redelivered: Bool
    /// When it started (seconds since 1970); nil while it waits.
    public var timeStart: Double?
    /// The process running it: nil while it waits.
    public var workerPID: Int32?
    /// Its ETA, for `inspect scheduled`.
    public var eta: Date?

    public init(message: CeleryMessage, name: String, queue: String, timeStart: Double? = nil, workerPID: Int32? = nil) {
        id = message.id
        self.name = name
        args = message.args.map(Self.masked)
        kwargs = Self.maskedObject(message.kwargs)
        exchange = message.exchange
        routingKey = message.routingKey ?? queue
        priority = message.priority
        redelivered = message.isRedelivered
        self.timeStart = timeStart
        self.workerPID = workerPID
        eta = message.eta
    }

    /// Celery's `Request.info()` for the node `hostname`; `acknowledged` is true once it runs (oauthq holds every
    /// message in a processing list until it settles, so this mirrors Celery's late-ack view of "started").
    public func info(hostname: String) -> JSONValue {
        [
            "id": .string(id), "name": .string(name), "args": .array(args), "kwargs": .object(kwargs), "type": .string(name),
            "hostname": .string(hostname), "time_start": timeStart.map(JSONValue.double) ?? .null,
            "acknowledged": .bool(timeStart != nil),
            "delivery_info": [
                "exchange": .string(exchange), "routing_key": .string(routingKey), "priority": .int(Int64(priority)),
                "redelivered": .bool(redelivered),
            ],
            "worker_pid": workerPID.map { .int(Int64($0)) } ?? .null,
        ]
    }

    /// Keyword arguments whose name says they hold a secret (`secret`, `password`, `token`, `key`): their value
    /// is replaced by `'********'` wherever they appear, so no inspect reply or event carries one in clear.
    public static func isSecretKey(_ key: String) -> Bool {
        let lowered = key.lowercased()
        return ["secret", "password", "token", "key", "credential"].contains { lowered.contains($0) }
    }

    public static let mask: JSONValue = "********"

    public static func masked(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object): return .object(maskedObject(object))
        case .array(let items): return .array(items.map(masked))
        default: return value
        }
    }

    public static func maskedObject(_ object: JSONObject) -> JSONObject {
        var result = JSONObject()
        for (key, value) in object {
            result[key] = isSecretKey(key) ? mask : masked(value)
        }
        return result
    }
}
