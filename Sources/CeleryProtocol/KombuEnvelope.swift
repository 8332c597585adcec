/// A kombu message: a task's (see ``CeleryMessage``), an event (`worker-heartbeat`, …) or a remote-control (pidbox) request or
/// reply, as kombu's Redis transport writes it: a JSON envelope with a base64 JSON body, in kombu's key order
/// (`body`, `content-encoding`, `content-type`, `headers`, `properties`).
public struct KombuEnvelope: Sendable, Hashable {
    /// The decoded body.
    public var body: JSONValue
    /// The message headers (`hostname` for events; `clock`, `expires` or `ticket` for pidbox messages).
    public var headers: JSONObject
    /// The properties (`delivery_mode`, `delivery_info`, `priority`, `body_encoding`, `delivery_tag`).
    public var properties: JSONObject

    public init(body: JSONValue, headers: JSONObject, properties: JSONObject) {
        self.body = body
        self.headers = headers
        self.properties = properties
    }

    /// A message as kombu publishes it: `delivery_mode` (1 for events and replies, 2 for requests), the
    /// exchange and routing key in `delivery_info`, priority 0, a base64 body and a fresh delivery tag.
    public init(
        body: JSONValue, headers: JSONObject, exchange: String, routingKey: String, deliveryMode: Int,
        deliveryTag: String = CeleryMessage.newID()
    ) {
        self.body = body
        self.headers = headers
        self.properties = [
            "delivery_mode": .int(Int64(deliveryMode)),
            "delivery_info": ["exchange": .string(exchange), "routing_key": .string(routingKey)],
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": .string(deliveryTag),
        ]
    }

    /// The envelope as a JSON object, the body base64-encoded.
    public var object: JSONObject {
        [
            "body": .string(Base64.encode(body.serialized())),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": .object(headers),
            "properties": .object(properties),
        ]
    }

    /// The envelope's bytes (Python `json.dumps` style, as kombu writes them).
    public func serialized() -> [UInt8] {
        JSONValue.object(object).serialized()
    }

    /// Reads an envelope: JSON, an object, a JSON body (base64 when `properties.body_encoding` says so).
    /// - Returns: nil for anything else (a foreign or malformed message is ignored, as kombu logs and drops it).
    public static func decode(_ raw: some Collection<UInt8>) -> KombuEnvelope? {
        guard case .success(.object(let envelope)) = JSONValue.parse(raw) else { return nil }
        if let type = envelope["content-type"]?.stringValue, type != "application/json" { return nil }
        let properties = envelope["properties"]?.objectValue ?? [:]
        let headers = envelope["headers"]?.objectValue ?? [:]
        guard let text = envelope["body"]?.stringValue else { return nil }
        let bodyBytes: [UInt8]
        switch properties["body_encoding"] {
        case nil, .null?:
            bodyBytes = Array(text.utf8)
        case .string("base64")?:
            guard let decoded = Base64.decode(text) else { return nil }
            bodyBytes = decoded
        default:
            return nil
        }
        guard case .success(let body) = JSONValue.parse(bodyBytes) else { return nil }
        return KombuEnvelope(body: body, headers: headers, properties: properties)
    }
}
