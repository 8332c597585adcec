public import CeleryProtocol
public import Redis

/// Writes Celery messages to Redis as kombu's Redis transport does: `LPUSH` to the queue's priority list, and the
/// queue's binding mirrored into `_kombu.binding.<queue>` so named-exchange paths (restores included) still find
/// the queue (docs/architecture.md#publishing-and-queue-bindings).
public enum TaskPublisher {
    /// `_kombu.binding.<queue>`.
    public static func bindingKey(queue: String) -> String {
        "_kombu.binding." + queue
    }

    /// kombu's binding member for the default direct exchange: `routing_key + sep + pattern + sep + queue`, with the
    /// queue name as routing key and an empty pattern.
    public static func bindingMember(queue: String) -> String {
        queue + CeleryQueue.separator + CeleryQueue.separator + queue
    }

    /// Sends `message` to `queue` at `priority` in one `MULTI`: `SADD` of the binding, then `LPUSH`.
    /// - Throws: ``RedisError`` when Redis refuses or the connection fails.
    public static func publish(
        _ message: CeleryMessage, queue: String, priority: Int, on connection: RedisConnection
    ) async throws {
        let replies = try await connection.pipeline([
            [Array("MULTI".utf8)],
            [Array("SADD".utf8), Array(bindingKey(queue: queue).utf8), Array(bindingMember(queue: queue).utf8)],
            [Array("LPUSH".utf8), Array(CeleryQueue.listKey(queue: queue, priority: priority).utf8), message.raw],
            [Array("EXEC".utf8)],
        ])
        for reply in replies {
            if let error = reply.errorMessage { throw PublishError(message: error) }
        }
        if let results = replies.last?.array {
            for reply in results {
                if let error = reply.errorMessage { throw PublishError(message: error) }
            }
        } else {
            throw PublishError(message: "EXEC did not return the results of the transaction")
        }
    }

    /// Redis refused part of the publish.
    public struct PublishError: Error, CustomStringConvertible {
        public let message: String
        /// Only the error's first word (`WRONGTYPE`, `OOM`, …): the rest may echo key names or data.
        public var description: String {
            "Redis refused the publish: \(message.prefix { !$0.isWhitespace })"
        }
    }
}
