public import Foundation
import CeleryProtocol
public import Redis

extension RedisBroker {
    /// Stores `REVOKED` for the ids whose stored state is absent, `PENDING`, `RECEIVED` or `RETRY`, as Celery 5.7's
    /// `revoke` does at once (a task with a final result, or one another worker has started, keeps its state).
    /// At most ``RevokedSet/maximumIDsPerRequest`` ids; a stored record that is not a Celery result is left as it is.
    /// Returns how many were marked.
    /// - Throws: ``RedisError``.
    @discardableResult
    public func markRevoked(_ ids: [String], on backend: isolated RedisConnection, now: Date = Date()) throws -> Int {
        let ids = RevokedSet.acceptable(ids)
        guard !ids.isEmpty else { return 0 }
        let results = RedisResultBackend(resultExpires: resultExpires)
        let replies = try backend.pipeline(ids.map { [Array("GET".utf8), Array(CeleryResult.key(taskID: $0).utf8)] })
        var marked = 0
        for (id, reply) in zip(ids, replies) {
            let stored: CeleryResult
            do {
                stored = try RedisResultBackend.reading(taskID: id, reply: reply).result
            } catch is RedisResultBackendError {
                // A record that is not a Celery result is not ours to replace: leave it for whoever wrote it.
                continue
            }
            guard [.pending, .received, .retry].contains(stored.state) else { continue }
            if try results.store(.revoked(taskID: id), on: backend, now: now) { marked += 1 }
        }
        return marked
    }
}
