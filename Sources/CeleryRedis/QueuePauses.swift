import Foundation
public import Redis
import Synchronization

/// Which of a worker's queues its slots may take from now.
///
/// Two sources, as in Celery plus one: `celery control cancel_consumer Q` / `add_consumer Q` change this worker
/// only and last until it stops (Celery's behaviour); `oauthq queues pause|resume Q` changes every worker, now
/// and after restarts, through the Redis set `P:paused` (and its change token `P:paused:version`, which workers
/// watch every ~200 ms and on a broadcast).
///
/// "Nothing is taken while paused": a slot reads the selection right before each fetch and marks the fetch as
/// in flight; a pause is acknowledged only once every fetch started under the old selection has returned
/// (``waitForFetches(timeout:)``), so after the acknowledgement no slot takes from the paused queue.
public final class QueuePauses: Sendable {
    public let key: String
    public let versionKey: String
    /// The longest queue name accepted from a request.
    public static let maximumNameBytes = 256
    /// The most queues paused at once, and the most a worker cancels or adds (more are ignored).
    public static let maximumPaused = 1_000

    private struct State {
        var paused: Set<String> = []
        var version: String?
        var cancelled: Set<String> = []
        var added: [String] = []
        var generation: Int64 = 0
        /// Slot → the generation its fetch in flight read.
        var fetching: [Int: Int64] = [:]
    }

    private let state = Mutex(State())

    public init(keyPrefix: String) {
        key = keyPrefix + ":paused"
        versionKey = keyPrefix + ":paused:version"
    }

    /// The queues of `order` (a slot's rotation) that may be taken from, followed by those added with
    /// `add_consumer`; marks a fetch in flight for `slot` until ``endFetch(slot:)``.
    public func beginFetch(slot: Int, order: [String]) -> [String] {
        state.withLock { state in
            state.fetching[slot] = state.generation
            return Self.selection(order: order, state: state)
        }
    }

    public func endFetch(slot: Int) {
        _ = state.withLock { $0.fetching.removeValue(forKey: slot) }
    }

    /// The queues this worker takes from now, given the queues it was started with.
    public func consumed(from queues: [String]) -> [String] {
        state.withLock { Self.selection(order: queues, state: $0) }
    }

    private static func selection(order: [String], state: State) -> [String] {
        var result = order.filter { !state.paused.contains($0) && !state.cancelled.contains($0) }
        for queue in state.added where !order.contains(queue) && !state.paused.contains(queue) && !state.cancelled.contains(queue) {
            result.append(queue)
        }
        return result
    }

    /// The queues paused for every worker (as last read from Redis), sorted.
    public var paused: [String] { state.withLock { $0.paused.sorted() } }

    /// `cancel_consumer`: this worker stops taking from `queue`.
    public func cancelLocally(_ queue: String) {
        state.withLock { state in
            guard state.cancelled.count < Self.maximumPaused || state.cancelled.contains(queue) else { return }
            state.cancelled.insert(queue)
            state.added.removeAll { $0 == queue }
            state.generation &+= 1
        }
    }

    /// `add_consumer`: this worker takes from `queue` (again, or for the first time).
    public func addLocally(_ queue: String) {
        state.withLock { state in
            state.cancelled.remove(queue)
            if !state.added.contains(queue), state.added.count < Self.maximumPaused { state.added.append(queue) }
            state.generation &+= 1
        }
    }

    /// Waits (bounded) until no slot is in a fetch that read an older selection. Returns false on timeout.
    public func waitForFetches(timeout: Duration) async -> Bool {
        let target = state.withLock { $0.generation }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if state.withLock({ $0.fetching.values.allSatisfy { $0 >= target } }) { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return false
    }

    /// Reloads `P:paused` when its version moved (or on the first call). Returns whether the selection changed.
    @discardableResult
    public func refresh(on connection: isolated RedisConnection) throws -> Bool {
        let version: String
        let reply: RedisValue
        do {
            version = try connection.command([Array("GET".utf8), Array(versionKey.utf8)]).string.map { String($0.prefix(64)) } ?? ""
            if state.withLock({ $0.version == version }) { return false }
            reply = try connection.command([Array("SRANDMEMBER".utf8), Array(key.utf8), Array(String(Self.maximumPaused).utf8)])
        } catch let error as RedisError where error.code == .server {
            // A key of the wrong type (written by hand): keep the selection; a worker must not stop over it.
            return false
        }
        if reply.errorMessage != nil { return false }
        let names = Set((reply.array ?? []).compactMap(\.string).filter { $0.utf8.count <= Self.maximumNameBytes })
        return state.withLock { state in
            state.version = version
            guard names != state.paused else { return false }
            state.paused = names
            state.generation &+= 1
            return true
        }
    }

    /// `oauthq queues pause|resume`: adds or removes `queue` in `P:paused` and replaces the version token. Returns whether
    /// the set changed.
    public func set(_ queue: String, paused: Bool, on connection: isolated RedisConnection) throws -> Bool {
        let replies = try connection.pipeline([
            [Array((paused ? "SADD" : "SREM").utf8), Array(key.utf8), Array(queue.utf8)],
            // A fresh token, not INCR: whatever the key held before (even a non-number), the change is seen.
            [Array("SET".utf8), Array(versionKey.utf8), Array(UUID().uuidString.utf8)],
        ])
        if let message = replies.compactMap(\.errorMessage).first { throw RedisError(.server, "paused queues: \(message)") }
        return (replies.first?.int ?? 0) > 0
    }

    /// The paused queues in Redis (for `oauthq status`), sorted.
    public static func read(keyPrefix: String, on connection: isolated RedisConnection) throws -> [String] {
        let reply = try connection.command([
            Array("SRANDMEMBER".utf8), Array((keyPrefix + ":paused").utf8), Array(String(maximumPaused).utf8),
        ])
        if let message = reply.errorMessage { throw RedisError(.server, "paused queues: \(message)") }
        return (reply.array ?? []).compactMap(\.string).sorted()
    }
}
