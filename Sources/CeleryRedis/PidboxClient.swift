import CivilCalendar
import Foundation
public import CeleryProtocol
public import Redis

/// Sends a remote-control request as Celery's `app.control.broadcast` does over Redis, and collects the
/// replies: a reply queue `<ticket>.reply.celery.pidbox` bound to the `reply.celery.pidbox` exchange with the
/// ticket as routing key (kombu's binding set), the request `PUBLISH`ed on `/<db>.celery.pidbox`, then the
/// replies popped from the reply queue until `limit` arrived or the timeout passed. Used by `oauthq revoke` and
/// `oauthq queues`, and by tests.
public struct PidboxClient: Sendable {
    public static let replyExchange = "reply.celery.pidbox"
    public let database: Int

    public init(database: Int) {
        self.database = database
    }

    /// Broadcasts `method(arguments)` to every worker (or `destination`) and returns the replies by node name.
    public func call(
        _ method: String, arguments: JSONObject, destination: [String]? = nil, limit: Int? = nil, timeout: Duration = .seconds(2),
        on connection: isolated RedisConnection
    ) throws -> [(String, JSONValue)] {
        let ticket = CeleryMessage.newID()
        let queue = ticket + "." + Self.replyExchange
        let bindingKey = "_kombu.binding." + Self.replyExchange
        let member = ticket + CeleryQueue.separator + CeleryQueue.separator + queue
        let body: JSONValue = [
            "method": .string(method), "arguments": .object(arguments),
            "destination": destination.map { .array($0.map(JSONValue.string)) } ?? .null, "pattern": nil, "matcher": nil,
            "ticket": .string(ticket), "reply_to": ["exchange": .string(Self.replyExchange), "routing_key": .string(ticket)],
        ]
        let envelope = KombuEnvelope(
            body: body, headers: ["clock": 1, "expires": .double(Date().timeIntervalSince1970 + 10)], exchange: "celery.pidbox",
            routingKey: "", deliveryMode: 1
        )
        _ = try connection.command([Array("SADD".utf8), Array(bindingKey.utf8), Array(member.utf8)])
        defer {
            _ = try? connection.pipeline([
                [Array("SREM".utf8), Array(bindingKey.utf8), Array(member.utf8)], [Array("DEL".utf8), Array(queue.utf8)],
            ])
        }
        _ = try connection.command([
            Array("PUBLISH".utf8), Array(PidboxRequest.channel(database: database).utf8), envelope.serialized(),
        ])
        var replies: [(String, JSONValue)] = []
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, replies.count < (limit ?? .max) {
            let left = deadline - ContinuousClock.now
            let seconds = max(0.01, left.seconds)
            let reply = try connection.command([
                Array("BRPOP".utf8), Array(queue.utf8), Array(String(format: "%.3f", min(seconds, 1.0)).utf8),
            ])
            guard let parts = reply.array, parts.count == 2, let bytes = parts[1].bytes,
                let message = KombuEnvelope.decode(bytes), let object = message.body.objectValue
            else { continue }
            for (node, value) in object { replies.append((node, value)) }
        }
        return replies
    }

    /// The names of the live workers registered under `keyPrefix` (for how many replies to wait for).
    public static func liveWorkerCount(keyPrefix: String, on connection: isolated RedisConnection) throws -> Int {
        let keys = RedisBroker.Keys(prefix: keyPrefix)
        let ids = try connection.command([Array("SMEMBERS".utf8), Array(keys.workers.utf8)]).array?.compactMap(\.string) ?? []
        guard !ids.isEmpty else { return 0 }
        let replies = try connection.pipeline(ids.prefix(10_000).map { [Array("EXISTS".utf8), Array(keys.heartbeat($0).utf8)] })
        return replies.filter { ($0.int ?? 0) > 0 }.count
    }
}
