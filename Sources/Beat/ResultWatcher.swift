import Foundation
public import JobQueue
public import Redis

/// Reads and waits for a task's result on Celery's Redis result backend (docs/architecture.md#the-result-backend): `GET
/// celery-task-meta-<id>`, and pub/sub on the channel of the same name, as `AsyncResult.get()` does.
///
/// To miss nothing, subscribe **before** the task is sent (``subscribe()``), then ``wait(timeout:)``.
public final class ResultWatcher: Sendable {
    /// A result as read: the decoded record and the exact bytes stored (nil for a task with no record, i.e.
    /// `PENDING`).
    public struct Reading: Sendable {
        public var result: CeleryResult
        public var raw: [UInt8]?

        /// `PENDING` with no record, as Celery reports an unknown id.
        public static func pending(_ taskID: String) -> Reading {
            Reading(result: CeleryResult(taskID: taskID, state: .pending), raw: nil)
        }
    }

    public let taskID: String
    let subscriber: RedisConnection
    let reader: RedisConnection
    /// Where to reconnect after a lost connection or a failover; nil: a lost connection ends the wait.
    let reconnecting: RedisConfiguration?

    /// - Parameters:
    ///   - subscriber: a connection used only for the subscription.
    ///   - reader: a connection for `GET`.
    ///   - reconnecting: the backend's configuration: when a connection fails transiently (lost, or a
    ///     failover: with Sentinel each connect asks the sentinels again), ``wait(timeout:progress:)``
    ///     reconnects within its timeout, subscribes again and reads the record again, so a result stored
    ///     meanwhile is not missed.
    public init(taskID: String, subscriber: RedisConnection, reader: RedisConnection, reconnecting: RedisConfiguration? = nil) {
        self.taskID = taskID
        self.subscriber = subscriber
        self.reader = reader
        self.reconnecting = reconnecting
    }

    /// `SUBSCRIBE celery-task-meta-<id>`.
    public func subscribe() async throws {
        _ = try await subscriber.command([Array("SUBSCRIBE".utf8), Array(CeleryResult.key(taskID: taskID).utf8)])
    }

    /// The stored result, or `PENDING` when there is none.
    /// - Throws: ``RedisError``, or ``WireDecodingError`` when the record is not a Celery result.
    public static func fetch(taskID: String, on connection: RedisConnection) async throws -> Reading {
        let reply = try await connection.command([Array("GET".utf8), Array(CeleryResult.key(taskID: taskID).utf8)])
        guard let bytes = reply.bytes, !reply.isNull else { return .pending(taskID) }
        return Reading(result: try CeleryResult.decode(bytes).get(), raw: bytes)
    }

    /// Waits until the task is ready (`SUCCESS`, `FAILURE`, `REVOKED`) or `timeout` passes, after a first `GET`.
    /// - Parameter progress: called for each not-ready state seen (`STARTED`, `RETRY`, …).
    /// - Returns: the ready result, or the latest one seen (possibly `PENDING`) when time ran out.
    public func wait(timeout: Duration, progress: (Reading) -> Void = { _ in }) async throws -> Reading {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var subscriber = self.subscriber
        var reader = self.reader
        var latest = Reading.pending(taskID)
        while true {
            do {
                let fetched = try await Self.fetch(taskID: taskID, on: reader)
                if fetched.raw != nil { latest = fetched }
                if latest.result.state.isReady { return latest }
                if fetched.raw != nil { progress(latest) }
                while clock.now < deadline {
                    let remaining = clock.now.duration(to: deadline)
                    guard let reply = try await subscriber.nextReply(timeout: min(remaining, .seconds(1))) else { continue }
                    guard let parts = reply.array, parts.count == 3, parts[0].string == "message", let payload = parts[2].bytes
                    else { continue }
                    guard case .success(let result) = CeleryResult.decode(payload) else { continue }
                    latest = Reading(result: result, raw: payload)
                    if result.state.isReady { return latest }
                    progress(latest)
                }
                // A write that was SET but not published (or raced the subscription) is still found.
                let final = try await Self.fetch(taskID: taskID, on: reader)
                return final.raw != nil ? final : latest
            } catch let error as RedisError where error.isTransient && reconnecting != nil && clock.now < deadline {
                (subscriber, reader) = try await reconnect(until: deadline, after: error)
            }
        }
    }

    /// New subscriber and reader connections (subscribed), retried with backoff until `deadline`.
    private func reconnect(until deadline: ContinuousClock.Instant, after error: RedisError) async throws -> (RedisConnection, RedisConnection) {
        guard let configuration = reconnecting else { throw error }
        let policy = RedisReconnectPolicy(initialDelay: .milliseconds(100), maxDelay: .seconds(2))
        var attempt = 1
        var last = error
        while ContinuousClock.now < deadline {
            do {
                let subscriber = try await RedisConnection.connect(configuration)
                let reader = try await RedisConnection.connect(configuration)
                _ = try await subscriber.command([Array("SUBSCRIBE".utf8), Array(CeleryResult.key(taskID: taskID).utf8)])
                return (subscriber, reader)
            } catch let failure as RedisError where failure.isTransient {
                last = failure
                try await Task.sleep(for: min(policy.delay(forRetry: attempt), ContinuousClock.now.duration(to: deadline)))
                attempt += 1
            }
        }
        throw last
    }
}
