public import Foundation

/// One Celery protocol v2 task message as kombu's Redis transport stores it in a list: a JSON envelope
/// `{"body", "content-encoding", "content-type", "headers", "properties"}` whose body is (usually base64 of)
/// `[args, kwargs, embed]`.
///
/// Read one with ``decode(_:)``, write one with ``make(taskName:id:args:kwargs:queue:priority:eta:expires:timeLimit:ignoreResult:retries:parentID:rootID:group:groupIndex:shadow:origin:replyTo:deliveryTag:now:extraHeaders:)``,
/// requeue one with ``redelivered()`` and retry one with ``retried(eta:retries:deliveryTag:now:)``.
///
/// The `description` shows the task name and id only; ``args`` and ``kwargs`` may hold client secrets.
public struct CeleryMessage: Sendable, Hashable, CustomStringConvertible {
    /// `headers.timelimit`: `[hard, soft]` in seconds (the code's order; Celery's protocol doc says the reverse).
    public struct TimeLimit: Sendable, Hashable {
        public var hard: Double?
        public var soft: Double?

        public init(hard: Double? = nil, soft: Double? = nil) {
            self.hard = hard
            self.soft = soft
        }

        /// No limits: `[null, null]`.
        public static let none = TimeLimit()
    }

    /// The bytes exactly as they were read (or made), for acking, the `unacked` hash and dead-lettering.
    public var raw: [UInt8]
    /// `headers.task`.
    public var taskName: String
    /// `headers.id`.
    public var id: String
    /// The positional arguments (body element 0).
    public var args: [JSONValue]
    /// The keyword arguments in order (body element 1).
    public var kwargs: JSONObject
    /// Body element 2 (`callbacks`, `errbacks`, `chain`, `chord`), `nil` when absent or `null`. Not interpreted.
    public var embed: JSONObject?
    /// `headers.eta`: do not run before this time.
    public var eta: Date?
    /// `headers.expires`: revoke as expired when received after this time.
    public var expires: Date?
    /// `headers.retries`, 0 when absent.
    public var retries: Int
    /// `headers.timelimit`.
    public var timeLimit: TimeLimit
    /// `headers.ignore_result`; `null`/absent reads as `false`.
    public var ignoreResult: Bool
    /// `headers.root_id`.
    public var rootID: String?
    /// `headers.parent_id`.
    public var parentID: String?
    /// `headers.group`.
    public var group: String?
    /// `headers.origin` (`gen<pid>@<host>` for a producer, the node name for a worker).
    public var origin: String?
    /// `properties.priority`, clamped to 0…9 (0 when absent or not a number, as kombu reads it).
    public var priority: Int
    /// `properties.delivery_info.exchange` (`""` for `send_task`'s anonymous exchange; `""` when absent).
    public var exchange: String
    /// `properties.delivery_info.routing_key`: the queue name for the anonymous exchange. `nil` when absent.
    public var routingKey: String?
    /// `properties.delivery_tag`, the field name in kombu's `unacked` hash. `nil` when absent (a Python worker would
    /// lose such a message; give it a tag of your own).
    public var deliveryTag: String?
    /// Whether kombu (or ``redelivered()``) marked the message as restored: `headers.redelivered` or
    /// `properties.delivery_info.redelivered`.
    public var isRedelivered: Bool
    /// All headers in order, including ones not modelled above (e.g. `celery_beat_task`).
    public var headers: JSONObject
    /// All properties in order.
    public var properties: JSONObject
    /// The whole envelope as parsed.
    public var envelope: JSONObject

    public var description: String {
        "CeleryMessage(task: \(taskName), id: \(id), retries: \(retries), priority: \(priority))"
    }

    /// The queue to republish to: the routing key for the anonymous exchange, else `fallback`.
    public func queue(default fallback: String = CeleryQueue.defaultQueue) -> String {
        if exchange.isEmpty, let routingKey, !routingKey.isEmpty { return routingKey }
        return fallback
    }

    /// Whether `headers.expires` is set and not after `now`.
    public func isExpired(now: Date = Date()) -> Bool {
        guard let expires else { return false }
        return expires <= now
    }
}
