import Foundation

extension CeleryMessage {
    /// Decodes a message as a Celery 5.7 worker would accept it (docs/architecture.md#the-message-envelope).
    ///
    /// - Envelope: a JSON object with `body` (string), `content-type` `application/json`, `content-encoding` absent or
    ///   UTF-8, `headers` with string `task` and `id`. `properties` may be absent.
    /// - Body: base64 when `properties.body_encoding` is `"base64"`, JSON text when it is absent or `null`; then
    ///   `[args(list), kwargs(object), embed(object|null)]` or `[args, kwargs]`.
    /// - `eta`/`expires`: `null` or ISO-8601 (`Z`, offsets, with or without fraction; naive means UTC).
    /// - `lang` is not checked (it may be `null`); `retries` defaults to 0; `delivery_tag` and `delivery_info` are
    ///   optional here (Python would lose the message; oauthq keeps it).
    ///
    /// Never traps. On failure the error carries the task id and name whenever they were readable, so a malformed
    /// message with a readable id can still get a `FAILURE` result.
    public static func decode(_ bytes: [UInt8]) -> Result<CeleryMessage, CeleryMessageError> {
        var decoder = Decoder(raw: bytes)
        do {
            return .success(try decoder.decode())
        } catch {
            return .failure(error)
        }
    }
}

/// The state of one decode, so every error can carry the id and name read so far.
private struct Decoder {
    let raw: [UInt8]
    var taskID: String?
    var taskName: String?

    init(raw: [UInt8]) {
        self.raw = raw
    }

    func fail(_ code: CeleryMessageError.Code, _ reason: String) -> CeleryMessageError {
        CeleryMessageError(code: code, reason: reason, taskID: taskID, taskName: taskName)
    }

    func missing(_ field: String) -> CeleryMessageError {
        fail(.missingField(field), "missing field \(field)")
    }

    func wrongType(_ field: String, _ value: JSONValue, expected: String) -> CeleryMessageError {
        fail(.wrongType(field), "field \(field) is \(value.typeName), expected \(expected)")
    }

    /// An optional string field: absent or `null` is `nil`.
    func optionalString(_ object: JSONObject, _ key: String, path: String) throws(CeleryMessageError) -> String? {
        guard let value = object[key] else { return nil }
        switch value {
        case .null: return nil
        case .string(let s): return s
        default: throw wrongType(path, value, expected: "string or null")
        }
    }

    func optionalTimestamp(_ headers: JSONObject, _ key: String) throws(CeleryMessageError) -> Date? {
        let path = "headers." + key
        guard let text = try optionalString(headers, key, path: path) else { return nil }
        guard let date = CeleryTimestamp.parse(text) else {
            throw fail(.invalidTimestamp(path), "field \(path) is not an ISO-8601 timestamp")
        }
        return date
    }

    mutating func decode() throws(CeleryMessageError) -> CeleryMessage {
        let envelopeValue: JSONValue
        switch JSONValue.parse(raw) {
        case .success(let value): envelopeValue = value
        case .failure(let error):
            if error.code == .invalidUTF8 {
                throw fail(.invalidUTF8, "envelope is not UTF-8 (\(error))")
            }
            throw fail(.invalidJSON, "envelope is not JSON: \(error)")
        }
        guard case .object(let envelope) = envelopeValue else {
            throw fail(.notAnObject, "envelope is a JSON \(envelopeValue.typeName), expected an object")
        }

        // Read the id and name first, so that every later error can name the task.
        var headers = JSONObject()
        if let headersValue = envelope["headers"] {
            guard case .object(let object) = headersValue else {
                throw wrongType("headers", headersValue, expected: "object")
            }
            headers = object
            if case .string(let id)? = headers["id"] { taskID = id }
            if case .string(let name)? = headers["task"] { taskName = name }
        }
        var properties = JSONObject()
        if let propertiesValue = envelope["properties"], !propertiesValue.isNull {
            guard case .object(let object) = propertiesValue else {
                throw wrongType("properties", propertiesValue, expected: "object")
            }
            properties = object
        }

        // Content type and encoding.
        guard let contentTypeValue = envelope["content-type"] else { throw missing("content-type") }
        guard case .string(let contentType) = contentTypeValue else {
            throw wrongType("content-type", contentTypeValue, expected: "string")
        }
        guard contentType == "application/json" else {
            throw fail(.unsupportedContentType, "content-type is not application/json")
        }
        if let encoding = try optionalString(envelope, "content-encoding", path: "content-encoding") {
            let lowered = encoding.lowercased()
            guard lowered == "utf-8" || lowered == "utf8" else {
                throw fail(.unsupportedContentEncoding, "content-encoding is not utf-8")
            }
        }

        // Body bytes.
        guard let bodyValue = envelope["body"] else { throw missing("body") }
        guard case .string(let bodyText) = bodyValue else { throw wrongType("body", bodyValue, expected: "string") }
        let bodyBytes: [UInt8]
        switch try optionalString(properties, "body_encoding", path: "properties.body_encoding") {
        case nil:
            bodyBytes = Array(bodyText.utf8)
        case "base64":
            guard let decoded = Base64.decode(bodyText) else {
                throw fail(.badBase64, "body is not valid base64")
            }
            bodyBytes = decoded
        default:
            throw fail(.unsupportedBodyEncoding, "properties.body_encoding is not base64")
        }
        let body: JSONValue
        switch JSONValue.parse(bodyBytes) {
        case .success(let value): body = value
        case .failure(let error):
            if error.code == .invalidUTF8 {
                throw fail(.invalidUTF8, "body is not UTF-8 (\(error))")
            }
            throw fail(.badBody, "body is not JSON: \(error)")
        }

        // Protocol 1 carries everything in a body object; recognise it to say so (and to report its id).
        guard headers.contains("task") || headers.contains("id") else {
            if case .object(let v1) = body, v1.contains("task") {
                if case .string(let id)? = v1["id"] { taskID = id }
                if case .string(let name)? = v1["task"] { taskName = name }
                throw fail(.unsupportedProtocol, "Celery protocol 1 message (task in body); only protocol 2 is supported")
            }
            throw envelope.contains("headers") ? missing("headers.task") : missing("headers")
        }

        guard let taskValue = headers["task"] else { throw missing("headers.task") }
        guard case .string(let name) = taskValue else { throw wrongType("headers.task", taskValue, expected: "string") }
        guard let idValue = headers["id"] else { throw missing("headers.id") }
        guard case .string(let id) = idValue else { throw wrongType("headers.id", idValue, expected: "string") }

        // [args, kwargs, embed]
        guard case .array(let parts) = body else {
            throw fail(.badBody, "body is a JSON \(body.typeName), expected [args, kwargs, embed]")
        }
        guard parts.count == 3 || parts.count == 2 else {
            throw fail(.badBody, "body has \(parts.count) elements, expected [args, kwargs, embed]")
        }
        guard case .array(let args) = parts[0] else {
            throw fail(.badBody, "body args is a JSON \(parts[0].typeName), expected a list")
        }
        guard case .object(let kwargs) = parts[1] else {
            throw fail(.badBody, "body kwargs is a JSON \(parts[1].typeName), expected an object")
        }
        var embed: JSONObject?
        if parts.count == 3 {
            switch parts[2] {
            case .null: embed = nil
            case .object(let object): embed = object
            default: throw fail(.badBody, "body embed is a JSON \(parts[2].typeName), expected an object or null")
            }
        }

        // Headers.
        let eta = try optionalTimestamp(headers, "eta")
        let expires = try optionalTimestamp(headers, "expires")

        var retries = 0
        if let value = headers["retries"] {
            switch value {
            case .null: break
            case .int(let n):
                guard let exact = Int(exactly: n) else { throw wrongType("headers.retries", value, expected: "integer") }
                retries = exact
            default: throw wrongType("headers.retries", value, expected: "integer or null")
            }
        }

        var timeLimit = CeleryMessage.TimeLimit.none
        if let value = headers["timelimit"], !value.isNull {
            guard case .array(let limits) = value, limits.count == 2 else {
                throw fail(.wrongType("headers.timelimit"), "field headers.timelimit is not [hard, soft]")
            }
            func limit(_ v: JSONValue) throws(CeleryMessageError) -> Double? {
                switch v {
                case .null: return nil
                case .int(let i): return Double(i)
                case .double(let d): return d
                default: throw fail(.wrongType("headers.timelimit"), "field headers.timelimit has a \(v.typeName) limit")
                }
            }
            timeLimit = CeleryMessage.TimeLimit(hard: try limit(limits[0]), soft: try limit(limits[1]))
        }

        var ignoreResult = false
        if let value = headers["ignore_result"] {
            switch value {
            case .null: break
            case .bool(let b): ignoreResult = b
            default: throw wrongType("headers.ignore_result", value, expected: "boolean or null")
            }
        }

        let rootID = try optionalString(headers, "root_id", path: "headers.root_id")
        let parentID = try optionalString(headers, "parent_id", path: "headers.parent_id")
        let group = try optionalString(headers, "group", path: "headers.group")
        let origin = try optionalString(headers, "origin", path: "headers.origin")

        // Properties. Priority is read as kombu does: int(...) clamped to 0…9, default 0.
        var priority = 0
        switch properties["priority"] {
        case .int(let p)?: priority = Int(Swift.min(Swift.max(p, 0), 9))
        case .double(let p)? where p.isFinite: priority = Int(Swift.min(Swift.max(p.rounded(.towardZero), 0), 9))
        default: break
        }
        let deliveryTag = try optionalString(properties, "delivery_tag", path: "properties.delivery_tag")

        var exchange = ""
        var routingKey: String?
        var isRedelivered = headers["redelivered"] == .bool(true)
        if let infoValue = properties["delivery_info"], !infoValue.isNull {
            guard case .object(let info) = infoValue else {
                throw wrongType("properties.delivery_info", infoValue, expected: "object")
            }
            exchange = try optionalString(info, "exchange", path: "properties.delivery_info.exchange") ?? ""
            routingKey = try optionalString(info, "routing_key", path: "properties.delivery_info.routing_key")
            if info["redelivered"] == .bool(true) { isRedelivered = true }
        }

        return CeleryMessage(
            raw: raw, taskName: name, id: id, args: args, kwargs: kwargs, embed: embed, eta: eta, expires: expires,
            retries: retries, timeLimit: timeLimit, ignoreResult: ignoreResult, rootID: rootID, parentID: parentID,
            group: group, origin: origin, priority: priority, exchange: exchange, routingKey: routingKey,
            deliveryTag: deliveryTag, isRedelivered: isRedelivered, headers: headers, properties: properties,
            envelope: envelope
        )
    }
}
