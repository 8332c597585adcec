public import Foundation
public import CeleryProtocol
public import Redis

/// Celery's Redis result backend (docs/architecture.md#the-result-backend): the one reader and writer of
/// `celery-task-meta-<id>` for the worker, `oauthq result`, `oauthq enqueue --wait` and `oauthq revoke`.
///
/// How a stored result reads, for every caller:
/// - no record: `PENDING` (``Reading/raw`` is nil), as Celery reports an unknown id;
/// - a record (stored or published) that is not a Celery result: ``RedisResultBackendError`` with code
///   ``RedisResultBackendError/Code/unreadableResult`` — never a trap, never a silent `PENDING`;
/// - a Redis failure: ``RedisError``.
///
/// Writing goes through the store-result script, which never replaces a stored `SUCCESS` (Celery's guard) and
/// publishes what it stores.
///
/// To wait for a result without missing it, subscribe **before** the task is sent
/// (``subscribe(taskID:on:)``), then ``wait(taskID:subscriber:reader:timeout:progress:)``.
public struct RedisResultBackend: Sendable {
    /// A result as read: the decoded record and the exact bytes stored (nil for a task with no record, i.e.
    /// `PENDING`).
    public struct Reading: Sendable {
        public var result: CeleryResult
        public var raw: [UInt8]?

        public init(result: CeleryResult, raw: [UInt8]?) {
            self.result = result
            self.raw = raw
        }

        /// `PENDING` with no record, as Celery reports an unknown id.
        public static func pending(_ taskID: String) -> Reading {
            Reading(result: CeleryResult(taskID: taskID, state: .pending), raw: nil)
        }
    }

    /// Seconds a stored result is kept (Celery's `result_expires`; 0: forever).
    public var resultExpires: Int
    /// Where ``wait(taskID:subscriber:reader:timeout:progress:)`` reconnects after a lost connection or a
    /// failover (with Sentinel each connect asks the sentinels again); nil: a lost connection ends the wait.
    public var reconnecting: RedisConfiguration?

    /// - Parameters:
    ///   - resultExpires: seconds results are kept (negative values count as 0: forever).
    ///   - reconnecting: the backend's configuration, for waits that survive a lost connection.
    public init(resultExpires: Int = 86_400, reconnecting: RedisConfiguration? = nil) {
        self.resultExpires = max(0, resultExpires)
        self.reconnecting = reconnecting
    }

    // MARK: - Fetch

    /// The stored result of `taskID` (`GET celery-task-meta-<id>`), or `PENDING` when there is none.
    /// - Throws: ``RedisResultBackendError`` (``RedisResultBackendError/Code/unreadableResult``) when the record
    ///   is not a Celery result; ``RedisError`` when Redis fails.
    public func fetch(taskID: String, on connection: isolated RedisConnection) throws -> Reading {
        let reply = try connection.command([Array("GET".utf8), Array(CeleryResult.key(taskID: taskID).utf8)])
        return try Self.reading(taskID: taskID, reply: reply)
    }

    /// Reads the reply to `GET celery-task-meta-<id>` (also one taken from a pipeline) by the rules above.
    /// - Throws: ``RedisResultBackendError`` for a record that is not a Celery result; ``RedisError`` for an
    ///   error reply (e.g. `WRONGTYPE`) or a reply `GET` never gives.
    public static func reading(taskID: String, reply: RedisValue) throws -> Reading {
        switch reply {
        case .null:
            return .pending(taskID)
        case .bulk(let bytes):
            return Reading(result: try decode(bytes, taskID: taskID), raw: bytes)
        case .error(let message):
            throw RedisError(.server, "reading a task result failed", serverPrefix: String(message.prefix { !$0.isWhitespace }))
        default:
            throw RedisError(.unexpectedReply, "GET of a task result returned \(reply)")
        }
    }

    /// Decodes a stored or published record.
    static func decode(_ bytes: [UInt8], taskID: String) throws(RedisResultBackendError) -> CeleryResult {
        switch CeleryResult.decode(bytes) {
        case .success(let result): return result
        case .failure(let error): throw RedisResultBackendError(.unreadableResult, taskID: taskID, decoding: error)
        }
    }

    // MARK: - Store

    /// Stores `result` and publishes it, unless a `SUCCESS` is already stored (Celery's guard).
    /// - Parameters:
    ///   - expires: seconds to keep this result instead of ``resultExpires`` (0: forever).
    ///   - now: `date_done` for a ready result that has none.
    /// - Returns: whether it was written (false: a `SUCCESS` was already stored).
    /// - Throws: ``RedisError``.
    @discardableResult
    public func store(
        _ result: CeleryResult, on connection: isolated RedisConnection, expires: Int? = nil, now: Date = Date()
    ) throws -> Bool {
        try connection.storeEncoded(
            result.encoded(now: now), key: CeleryResult.key(taskID: result.taskID), expires: max(0, expires ?? resultExpires))
    }

    // MARK: - Wait

    /// `SUBSCRIBE celery-task-meta-<id>` on `subscriber`, a connection used for nothing else afterwards.
    /// - Throws: ``RedisError``.
    public func subscribe(taskID: String, on subscriber: RedisConnection) async throws {
        _ = try await subscriber.command([Array("SUBSCRIBE".utf8), Array(CeleryResult.key(taskID: taskID).utf8)])
    }

    /// Waits until the task is ready (`SUCCESS`, `FAILURE`, `REVOKED`) or `timeout` passes: a first `GET`, then
    /// the results published on the channel, then a last `GET` (a result stored without a publish is still
    /// found). With ``reconnecting``, a transient connection failure within the timeout is followed by new
    /// connections, a new subscription and a new `GET`, so a result stored meanwhile is not missed.
    /// - Parameters:
    ///   - subscriber: a connection already subscribed with ``subscribe(taskID:on:)``.
    ///   - reader: a connection for `GET`.
    ///   - progress: called for each not-ready state seen (`STARTED`, `RETRY`, …).
    /// - Returns: the ready result, or the latest one seen (possibly `PENDING`) when time ran out.
    /// - Throws: ``RedisResultBackendError`` for a record that is not a Celery result; ``RedisError`` when
    ///   Redis fails for good (or at once, without ``reconnecting``).
    public func wait(
        taskID: String, subscriber: RedisConnection, reader: RedisConnection, timeout: Duration,
        progress: (Reading) -> Void = { _ in }
    ) async throws -> Reading {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var subscriber = subscriber
        var reader = reader
        var latest = Reading.pending(taskID)
        while true {
            do {
                let fetched = try await fetch(taskID: taskID, on: reader)
                if fetched.raw != nil { latest = fetched }
                if latest.result.state.isReady { return latest }
                if fetched.raw != nil { progress(latest) }
                while clock.now < deadline {
                    let remaining = clock.now.duration(to: deadline)
                    guard let reply = try await subscriber.nextReply(timeout: min(remaining, .seconds(1))) else { continue }
                    // Only `message` pushes carry a record; anything else on this connection is not ours.
                    guard let parts = reply.array, parts.count == 3, parts[0].string == "message", let payload = parts[2].bytes
                    else { continue }
                    latest = Reading(result: try Self.decode(payload, taskID: taskID), raw: payload)
                    if latest.result.state.isReady { return latest }
                    progress(latest)
                }
                // A write that was SET but not published (or raced the subscription) is still found.
                let final = try await fetch(taskID: taskID, on: reader)
                return final.raw != nil ? final : latest
            } catch let error as RedisError where error.isTransient && reconnecting != nil && clock.now < deadline {
                (subscriber, reader) = try await reconnect(taskID: taskID, until: deadline, after: error)
            }
        }
    }

    /// New subscriber and reader connections (subscribed), retried with backoff until `deadline`.
    private func reconnect(
        taskID: String, until deadline: ContinuousClock.Instant, after error: RedisError
    ) async throws -> (RedisConnection, RedisConnection) {
        guard let configuration = reconnecting else { throw error }
        let policy = RedisReconnectPolicy(initialDelay: .milliseconds(100), maxDelay: .seconds(2))
        var attempt = 1
        var last = error
        while ContinuousClock.now < deadline {
            do {
                let subscriber = try await RedisConnection.connect(configuration)
                let reader = try await RedisConnection.connect(configuration)
                try await subscribe(taskID: taskID, on: subscriber)
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
