import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A Celery remote-control request (`celery inspect ping`, `celery status`, `control.broadcast`), as kombu's
/// pidbox publishes it on `/<db>.celery.pidbox`: a body `{method, arguments, destination, pattern, matcher,
/// ticket, reply_to: {exchange, routing_key}}`.
public struct PidboxRequest: Sendable, Hashable {
    public var method: String
    public var arguments: JSONObject
    /// `destination`: the node names addressed (a list), or nil for every node.
    public var destination: JSONValue
    /// `pattern` and `matcher` (`glob`, the default, or `pcre`): used only when there is no destination.
    public var pattern: String?
    public var matcher: String?
    /// The request's id, echoed in the reply's `ticket` header.
    public var ticket: String?
    /// Where a reply goes: the reply exchange and the client's routing key; nil for a cast (no reply).
    public var replyTo: (exchange: String, routingKey: String)? {
        guard let exchange = replyExchange, let routingKey = replyRoutingKey else { return nil }
        return (exchange, routingKey)
    }
    private var replyExchange: String?
    private var replyRoutingKey: String?

    /// The pub/sub channel of the control exchange for a broker database: `/<db>.celery.pidbox`.
    public static func channel(database: Int) -> String {
        "/\(database).celery.pidbox"
    }

    /// The kombu binding set of the control exchange (`_kombu.binding.celery.pidbox`) and this node's member in
    /// it (`\x06\x16\x06\x16<hostname>.celery.pidbox`: empty routing key and pattern, queue `<hostname>.celery.pidbox`).
    public static let bindingKey = "_kombu.binding.celery.pidbox"
    public static let permanentBindingKey = "_kombu.binding_permanent.celery.pidbox"
    public static func bindingMember(hostname: String) -> String {
        CeleryQueue.separator + CeleryQueue.separator + hostname + ".celery.pidbox"
    }

    /// The longest `pattern` matched (glob or pcre); longer ones address no node.
    public static let maximumPatternBytes = 256

    /// Reads a request body; nil when it is not one (no `method`).
    public init?(body: JSONValue) {
        guard let object = body.objectValue, let method = object["method"]?.stringValue else { return nil }
        self.method = method
        arguments = object["arguments"]?.objectValue ?? [:]
        destination = object["destination"] ?? .null
        pattern = object["pattern"]?.stringValue
        matcher = object["matcher"]?.stringValue
        ticket = object["ticket"]?.stringValue
        let replyTo = object["reply_to"]?.objectValue
        replyExchange = replyTo?["exchange"]?.stringValue
        replyRoutingKey = replyTo?["routing_key"]?.stringValue
    }

    /// Whether the node `hostname` must handle the request, by kombu's `Node.handle_message` rules: a
    /// non-empty destination must contain it; else a pattern with a matcher must match it (`glob`: fnmatch;
    /// `pcre`: a regular expression matched at the start, as `re.match`; another matcher: not handled); else
    /// every node handles it.
    public func isAddressed(to hostname: String) -> Bool {
        switch destination {
        case .array(let names) where !names.isEmpty:
            return names.contains(.string(hostname))
        case .string(let text) where !text.isEmpty:
            return text.contains(hostname)  // Python's `in` on a string
        default:
            break
        }
        guard let pattern, !pattern.isEmpty, let matcher, !matcher.isEmpty else { return true }
        // A pattern is matched against our own short name, but its cost grows with its own length (backtracking):
        // a longer one than any node name needs is refused unmatched.
        guard pattern.utf8.count <= Self.maximumPatternBytes else { return false }
        switch matcher {
        case "glob":
            return fnmatch(pattern, hostname, FNM_NOESCAPE) == 0
        case "pcre":
            guard let expression = try? NSRegularExpression(pattern: pattern) else { return false }
            let range = NSRange(hostname.startIndex..., in: hostname)
            return expression.firstMatch(in: hostname, options: [.anchored], range: range) != nil
        default:
            return false
        }
    }

    /// The reply message for `hostname` (body `{hostname: reply}`, headers `{ticket, clock}`, on the reply
    /// exchange with the client's routing key); nil when the request wants no reply.
    public func reply(_ reply: JSONValue, hostname: String, clock: Int64) -> KombuEnvelope? {
        guard let replyTo else { return nil }
        return KombuEnvelope(
            body: .object([hostname: reply]), headers: ["ticket": ticket.map(JSONValue.string) ?? .null, "clock": .int(clock)],
            exchange: replyTo.exchange, routingKey: replyTo.routingKey, deliveryMode: 1
        )
    }
}
