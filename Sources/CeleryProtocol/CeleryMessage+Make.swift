public import Foundation

extension CeleryMessage {
    /// `gen<pid>@<host>`, the `origin` Celery's `anon_nodename()` gives a producer that is not a worker.
    public static let defaultOrigin: String = {
        let info = ProcessInfo.processInfo
        var host = info.hostName
        if let dot = host.firstIndex(of: "."), !host.isEmpty { host = String(host[..<dot]) }
        if host.isEmpty { host = "localhost" }
        return "gen\(info.processIdentifier)@\(host)"
    }()

    /// A `reply_to` for this process. kombu uses the app's `oid` (a uuid3 fixed per process and app); only the rpc
    /// result backend reads it, so a random uuid fixed for the process is equivalent.
    public static let defaultReplyTo: String = UUID().uuidString.lowercased()

    /// A new task id or delivery tag: a lowercase uuid4, as Python's `str(uuid.uuid4())`.
    public static func newID() -> String {
        UUID().uuidString.lowercased()
    }

    /// The embed Celery writes for a plain `send_task`: `{"callbacks": null, "errbacks": null, "chain": null, "chord": null}`.
    public static let emptyEmbed: JSONObject = ["callbacks": nil, "errbacks": nil, "chain": nil, "chord": nil]

    /// Builds a message exactly as Celery 5.7's `app.send_task` with kombu's Redis transport does
    /// (docs/architecture.md#the-message-envelope): same key order, same header set with the same `null`s, a base64 body, and
    /// `properties.expiration` only when `expires` is set.
    ///
    /// Push ``raw`` with `LPUSH` to ``CeleryQueue/listKey(queue:priority:)`` for `queue` and `priority`.
    ///
    /// - Parameters:
    ///   - taskName: `headers.task`.
    ///   - id: The task id (default: a new uuid4).
    ///   - args: Positional arguments.
    ///   - kwargs: Keyword arguments, in order.
    ///   - queue: The queue (the routing key on the anonymous exchange); default `celery`.
    ///   - priority: 0…9, clamped (on Redis, 0 is served first).
    ///   - eta: Do not run before; `countdown` is `now + countdown`.
    ///   - expires: Revoke as expired after this time; also sets `properties.expiration` (ms from `now`, ≥ 0).
    ///   - timeLimit: `[hard, soft]` seconds.
    ///   - ignoreResult: `headers.ignore_result`; `send_task` writes `null` unless told, so `nil` writes `null`.
    ///   - retries: `headers.retries`.
    ///   - parentID: `headers.parent_id`.
    ///   - rootID: `headers.root_id`; defaults to `id`.
    ///   - group: `headers.group`.
    ///   - groupIndex: `headers.group_index`.
    ///   - shadow: `headers.shadow`.
    ///   - origin: `headers.origin`; default ``defaultOrigin``.
    ///   - replyTo: `properties.reply_to`; default ``defaultReplyTo``.
    ///   - deliveryTag: `properties.delivery_tag`; default a new uuid4.
    ///   - now: The clock for `expiration`.
    ///   - extraHeaders: Merged into the headers like Python's `dict.update` (existing keys replaced in place, new ones
    ///     appended), e.g. `["celery_beat_task": true]` for beat.
    public static func make(
        taskName: String,
        id: String = CeleryMessage.newID(),
        args: [JSONValue] = [],
        kwargs: JSONObject = [:],
        queue: String = CeleryQueue.defaultQueue,
        priority: Int = 0,
        eta: Date? = nil,
        expires: Date? = nil,
        timeLimit: TimeLimit = .none,
        ignoreResult: Bool? = nil,
        retries: Int = 0,
        parentID: String? = nil,
        rootID: String? = nil,
        group: String? = nil,
        groupIndex: Int? = nil,
        shadow: String? = nil,
        origin: String = CeleryMessage.defaultOrigin,
        replyTo: String = CeleryMessage.defaultReplyTo,
        deliveryTag: String = CeleryMessage.newID(),
        now: Date = Date(),
        extraHeaders: JSONObject = [:]
    ) -> CeleryMessage {
        build(
            taskName: taskName, id: id, args: args, kwargs: kwargs, embed: emptyEmbed, queue: queue,
            priority: priority, eta: eta.map { .string(CeleryTimestamp.format($0)) } ?? .null,
            expires: expires.map { .string(CeleryTimestamp.format($0)) } ?? .null, expiresDate: expires,
            timeLimit: timeLimit, ignoreResult: ignoreResult.map(JSONValue.bool) ?? .null, retries: retries,
            parentID: parentID, rootID: rootID, group: group, groupIndex: groupIndex.map { .int(Int64($0)) } ?? .null,
            shadow: shadow, argsrepr: nil, kwargsrepr: nil, origin: origin, replyTo: replyTo,
            deliveryTag: deliveryTag, stampedHeaders: .null, stamps: [:], now: now, extraHeaders: extraHeaders
        )
    }

    /// This message as kombu restores an unacknowledged one: the envelope re-serialized with
    /// `headers.redelivered = true` and, when present, `properties.delivery_info.redelivered = true` (existing keys
    /// keep their place, new ones are appended). Push it with `RPUSH` so it is served next, as kombu does.
    public func redelivered() -> [UInt8] {
        redelivered(settingHeaders: [:])
    }

    /// ``redelivered()`` with `extra` headers set as well (e.g. oauthq's worker-lost count).
    func redelivered(settingHeaders extra: [String: JSONValue]) -> [UInt8] {
        var envelope = self.envelope
        var headers = self.headers
        headers["redelivered"] = true
        for (name, value) in extra.sorted(by: { $0.key < $1.key }) { headers[name] = value }
        envelope["headers"] = .object(headers)
        if case .object(var properties)? = envelope["properties"],
            case .object(var info)? = properties["delivery_info"]
        {
            info["redelivered"] = true
            properties["delivery_info"] = .object(info)
            envelope["properties"] = .object(properties)
        }
        return JSONValue.object(envelope).serialized()
    }

    /// The message Celery's `Task.retry` republishes: the same id, task, arguments, embed, queue, priority, time
    /// limits, root, group and `expires` (verbatim); `retries` as given; the new `eta`; `parent_id` set to this
    /// task's id; `ignore_result` written as a boolean; a new delivery tag; `expiration` recomputed from `now`.
    /// Headers `as_task_v2` does not write (e.g. `celery_beat_task`) are not carried over, as in Celery.
    ///
    /// - Parameters:
    ///   - eta: When to run the retry.
    ///   - retries: The new `headers.retries`, normally `self.retries + 1`.
    ///   - deliveryTag: The new delivery tag.
    ///   - now: The clock for `expiration`.
    public func retried(
        eta: Date,
        retries: Int,
        deliveryTag: String = CeleryMessage.newID(),
        now: Date = Date()
    ) -> [UInt8] {
        let expiresHeader = headers["expires"].flatMap { $0.isNull ? nil : $0 } ?? .null
        let groupIndex: JSONValue = headers["group_index"] ?? .null
        let stampedHeaders: JSONValue = headers["stamped_headers"] ?? .null
        let stamps = headers["stamps"]?.objectValue ?? [:]
        let message = CeleryMessage.build(
            taskName: taskName, id: id, args: args, kwargs: kwargs, embed: embed ?? CeleryMessage.emptyEmbed,
            queue: queue(), priority: priority, eta: .string(CeleryTimestamp.format(eta)), expires: expiresHeader,
            expiresDate: expires, timeLimit: timeLimit, ignoreResult: .bool(ignoreResult), retries: retries,
            parentID: id, rootID: rootID ?? id, group: group, groupIndex: groupIndex,
            shadow: headers["shadow"]?.stringValue, argsrepr: nil, kwargsrepr: nil,
            origin: origin ?? CeleryMessage.defaultOrigin,
            replyTo: properties["reply_to"]?.stringValue ?? CeleryMessage.defaultReplyTo, deliveryTag: deliveryTag,
            stampedHeaders: stampedHeaders, stamps: stamps, now: now, extraHeaders: [:]
        )
        return message.raw
    }

    // MARK: - Building

    private static func build(
        taskName: String, id: String, args: [JSONValue], kwargs: JSONObject, embed: JSONObject, queue: String,
        priority: Int, eta: JSONValue, expires: JSONValue, expiresDate: Date?, timeLimit: TimeLimit,
        ignoreResult: JSONValue, retries: Int, parentID: String?, rootID: String?, group: String?,
        groupIndex: JSONValue, shadow: String?, argsrepr: String?, kwargsrepr: String?, origin: String,
        replyTo: String, deliveryTag: String, stampedHeaders: JSONValue, stamps: JSONObject, now: Date,
        extraHeaders: JSONObject
    ) -> CeleryMessage {
        func string(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
        func number(_ d: Double?) -> JSONValue {
            guard let d else { return .null }
            // Python keeps whatever the caller passed; integral limits read best as ints (`[60, 30]`).
            if d.rounded() == d, let i = Int64(exactly: d) { return .int(i) }
            return .double(d)
        }
        let clampedPriority = Swift.min(Swift.max(priority, 0), 9)
        let root = (rootID?.isEmpty ?? true) ? id : rootID!

        var headers: JSONObject = [
            "lang": "py",
            "task": .string(taskName),
            "id": .string(id),
            "shadow": string(shadow),
            "eta": eta,
            "expires": expires,
            "group": string(group),
            "group_index": groupIndex,
            "retries": .int(Int64(retries)),
            "timelimit": [number(timeLimit.hard), number(timeLimit.soft)],
            "root_id": .string(root),
            "parent_id": string(parentID),
            // as_task_v2 does `args = args or ()`, so empty args print as a tuple.
            "argsrepr": .string(argsrepr ?? (args.isEmpty ? "()" : JSONValue.array(args).celerySafeRepr())),
            "kwargsrepr": .string(kwargsrepr ?? JSONValue.object(kwargs).celerySafeRepr()),
            "origin": .string(origin),
            "ignore_result": ignoreResult,
            "replaced_task_nesting": 0,
            "stamped_headers": stampedHeaders,
            "stamps": .object(stamps),
        ]
        for (key, value) in extraHeaders { headers[key] = value }

        let deliveryInfo: JSONObject = ["exchange": "", "routing_key": .string(queue)]
        var properties: JSONObject = [
            "correlation_id": .string(id),
            "reply_to": .string(replyTo),
            "delivery_mode": 2,
        ]
        if !expires.isNull, let expiresDate {
            // kombu: str(int(expires_s * 1000)), with a past expiry clamped to 0 by Celery. Computed on whole
            // microseconds, as Python's timedelta is, so 120 s is "120000" and not "119999".
            let micros = CeleryTimestamp.microseconds(expiresDate) - CeleryTimestamp.microseconds(now)
            properties["expiration"] = .string(String(Swift.max(micros, 0) / 1000))
        }
        properties["delivery_info"] = .object(deliveryInfo)
        properties["priority"] = .int(Int64(clampedPriority))
        properties["body_encoding"] = "base64"
        properties["delivery_tag"] = .string(deliveryTag)

        let body: JSONValue = [.array(args), .object(kwargs), .object(embed)]
        let envelope = KombuEnvelope(body: body, headers: headers, properties: properties).object
        let raw = JSONValue.object(envelope).serialized()

        return CeleryMessage(
            raw: raw, taskName: taskName, id: id, args: args, kwargs: kwargs, embed: embed,
            eta: eta.stringValue.flatMap(CeleryTimestamp.parse),
            expires: expires.stringValue.flatMap(CeleryTimestamp.parse), retries: retries, timeLimit: timeLimit,
            ignoreResult: ignoreResult.boolValue ?? false, rootID: root, parentID: parentID, group: group,
            origin: origin, priority: clampedPriority, exchange: "", routingKey: queue, deliveryTag: deliveryTag,
            isRedelivered: false, headers: headers, properties: properties, envelope: envelope
        )
    }
}
